"""Prometheus metrics in the text exposition format, hand-rolled (no `prometheus_client` dependency).

Updates happen on the event loop, but a lock keeps a scrape consistent whatever thread it runs in.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

__all__ = ["Counter", "Histogram", "ServerMetrics"]

Labels = tuple[str, ...]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if value != int(value) else str(int(value))


class Counter:
    """A monotonically increasing value per label set."""

    def __init__(self, name: str, help_text: str, label_names: Sequence[str]) -> None:
        self.name, self.help, self.label_names = name, help_text, tuple(label_names)
        self._values: dict[Labels, float] = {}
        self._lock = threading.Lock()

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        """Add `amount` (≥ 0) to the series with these label values."""
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        """The current value of one series (0 if never incremented)."""
        return self._values.get(labels, 0.0)

    def render(self) -> list[str]:
        """Exposition lines: HELP, TYPE, one sample per series."""
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        with self._lock:
            for labels, value in sorted(self._values.items()):
                lines.append(f"{self.name}{_labels(self.label_names, labels)} {_number(value)}")
        return lines


class Histogram:
    """Observations counted into cumulative buckets, with their sum and count, per label set."""

    def __init__(self, name: str, help_text: str, label_names: Sequence[str], buckets: Sequence[float]) -> None:
        self.name, self.help, self.label_names = name, help_text, tuple(label_names)
        self.buckets = (*sorted(buckets), math.inf)
        self._series: dict[Labels, list[float]] = {}  # bucket counts..., then sum, then count
        self._lock = threading.Lock()

    def observe(self, value: float, *labels: str) -> None:
        """Record one observation (seconds, for the latency histograms)."""
        with self._lock:
            series = self._series.setdefault(labels, [0.0] * (len(self.buckets) + 2))
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    series[i] += 1
            series[-2] += value
            series[-1] += 1

    def count(self, *labels: str) -> float:
        """How many observations one series has."""
        series = self._series.get(labels)
        return series[-1] if series else 0.0

    def render(self) -> list[str]:
        """Exposition lines: HELP, TYPE, then `_bucket`, `_sum` and `_count` samples per series."""
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        with self._lock:
            for labels, series in sorted(self._series.items()):
                for bound, count in zip(self.buckets, series, strict=False):
                    le = f'le="{_number(bound)}"'
                    lines.append(f"{self.name}_bucket{_labels(self.label_names, labels, le)} {_number(count)}")
                lines.append(f"{self.name}_sum{_labels(self.label_names, labels)} {_number(series[-2])}")
                lines.append(f"{self.name}_count{_labels(self.label_names, labels)} {_number(series[-1])}")
        return lines


class ServerMetrics:
    """Every metric the server exposes on `GET /metrics`."""

    def __init__(self) -> None:
        self.requests = Counter(
            "routerkit_requests_total", "Chat-completion requests by final HTTP status.", ["status"]
        )
        self.decisions = Counter(
            "routerkit_decisions_total", "Routing decisions by router and chosen upstream model.", ["router", "model"]
        )
        self.routing_latency = Histogram(
            "routerkit_routing_latency_seconds", "Time to route one request.", ["router"], _LATENCY_BUCKETS
        )
        self.upstream_latency = Histogram(
            "routerkit_upstream_latency_seconds",
            "Upstream call time (to the whole answer, or to the first chunk when streaming), per model.",
            ["model"],
            _LATENCY_BUCKETS,
        )
        self.upstream_errors = Counter(
            "routerkit_upstream_errors_total", "Failed upstream attempts by model and reason.", ["model", "reason"]
        )
        self.fallbacks = Counter(
            "routerkit_fallbacks_total", "Requests answered by a model other than the routed one.", ["model"]
        )
        self.tokens = Counter("routerkit_tokens_total", "Tokens the upstreams reported in `usage`.", ["model", "kind"])
        self.cost = Counter(
            "routerkit_cost_usd_total", "Cost in USD from each model's `price` and the reported `usage`.", ["model"]
        )

    def render(self) -> str:
        """The whole exposition text."""
        metrics: list[Counter | Histogram] = [
            self.requests,
            self.decisions,
            self.routing_latency,
            self.upstream_latency,
            self.upstream_errors,
            self.fallbacks,
            self.tokens,
            self.cost,
        ]
        return "\n".join(line for metric in metrics for line in metric.render()) + "\n"
