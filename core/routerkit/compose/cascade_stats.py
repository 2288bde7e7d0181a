"""What a `Cascade` reports: one `CascadeResult` per query, and `CascadeStats` over a run and over time.

Every figure is counted, never estimated: calls, tokens and cost come from the query's share of the
cascade's `UsageLedger`; deferrals, store hits and strategies from the results themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from routerkit.compose.strategies import Strategy
from routerkit.errors import ConfigError

__all__ = ["CascadeResult", "CascadeStats", "StrategyStatus"]

StrategyStatus = Literal["not_deferred", "no_store", "written", "duplicate", "parse_failed", "write_failed"]
"""What became of the strategy on a query: not deferred (none asked for); deferred without a store; a new
strategy stored; a near-duplicate of a stored one (nothing added); the reply had no strategy section; the
separate strategy-writing call failed."""


@dataclass(frozen=True)
class CascadeResult:
    """One query's outcome: the answer, who gave it and why, and what it cost."""

    query: str
    """The question (the last user turn)."""
    answer: str
    """The answer returned."""
    model: str
    """The model that gave `answer` (the weak or the strong one)."""
    deferred: bool
    """Whether the query went to the strong model."""
    confidence: float
    """The estimator's confidence (0 when the weak call failed or answered nothing)."""
    threshold: float
    """The deferral threshold λ in force."""
    weak_answer: str | None
    """The weak model's answer (None when it was skipped or failed)."""
    weak_error: str | None
    """Why the weak model gave no usable answer, when it did not."""
    skipped_weak: bool
    """True when a router's estimate deferred before any weak call."""
    strategies_used: tuple[tuple[str, float], ...]
    """(strategy id, cosine similarity) of each strategy put into the weak prompt, most similar first."""
    strategy_written: Strategy | None
    """The strategy stored for this query, if one was."""
    strategy_status: StrategyStatus
    calls: int
    """Model calls made for this query (weak, verification, strong, strategy writing), failed ones included."""
    strong_calls: int
    """How many of them went to the strong model."""
    tokens: int
    """Input plus output tokens the calls reported."""
    cost_usd: float
    """USD of the calls whose cost the clients knew."""
    unpriced_calls: int
    """Answered calls whose cost was unknown (not in `cost_usd`)."""
    retrieval_ms: float
    """Time spent embedding the query and searching the store."""
    score: float | None
    """`scorer(answer, reference)`, when both were given."""


@dataclass(frozen=True)
class CascadeStats:
    """Metrics over a sequence of results (a run, or a window of one); `windows` shows them over time."""

    results: tuple[CascadeResult, ...]

    @property
    def queries(self) -> int:
        """How many queries."""
        return len(self.results)

    @property
    def deferrals(self) -> int:
        """Queries that went to the strong model."""
        return sum(r.deferred for r in self.results)

    @property
    def strong_call_rate(self) -> float:
        """Share of queries that called the strong model (0 for no queries)."""
        return _share(sum(r.strong_calls > 0 for r in self.results), self.queries)

    @property
    def strong_calls(self) -> int:
        """Calls to the strong model, strategy-writing calls included."""
        return sum(r.strong_calls for r in self.results)

    @property
    def calls(self) -> int:
        """All model calls."""
        return sum(r.calls for r in self.results)

    @property
    def tokens(self) -> int:
        """All tokens reported."""
        return sum(r.tokens for r in self.results)

    @property
    def cost_usd(self) -> float:
        """Total known cost in USD."""
        return sum(r.cost_usd for r in self.results)

    @property
    def cost_per_query(self) -> float:
        """Mean known cost per query in USD (0 for no queries)."""
        return self.cost_usd / self.queries if self.queries else 0.0

    @property
    def unpriced_calls(self) -> int:
        """Answered calls whose cost is unknown; when > 0, the costs above are lower bounds."""
        return sum(r.unpriced_calls for r in self.results)

    @property
    def scored(self) -> int:
        """Queries that have a score."""
        return sum(r.score is not None for r in self.results)

    @property
    def accuracy(self) -> float | None:
        """Mean score over the scored queries; None when none was scored."""
        scores = [r.score for r in self.results if r.score is not None]
        return sum(scores) / len(scores) if scores else None

    @property
    def store_hits(self) -> int:
        """Queries whose weak prompt got at least one strategy."""
        return sum(bool(r.strategies_used) for r in self.results)

    @property
    def store_hit_rate(self) -> float:
        """Share of queries with a store hit."""
        return _share(self.store_hits, self.queries)

    @property
    def weak_failures(self) -> int:
        """Queries whose weak call failed or answered nothing (each was deferred)."""
        return sum(r.weak_error is not None for r in self.results)

    @property
    def strategies_written(self) -> int:
        """New strategies stored."""
        return self._status("written")

    @property
    def strategy_duplicates(self) -> int:
        """Strategies not stored because the store had a near-duplicate."""
        return self._status("duplicate")

    @property
    def strategy_parse_failures(self) -> int:
        """Deferred queries whose reply had no strategy section."""
        return self._status("parse_failed")

    @property
    def strategy_write_failures(self) -> int:
        """Deferred queries whose strategy-writing call failed."""
        return self._status("write_failed")

    @property
    def mean_retrieval_ms(self) -> float:
        """Mean embedding + search time per query with a store lookup (0 if none)."""
        times = [r.retrieval_ms for r in self.results if r.retrieval_ms > 0]
        return sum(times) / len(times) if times else 0.0

    def summary(self) -> dict[str, object]:
        """Every metric above, as plain data."""
        names = [
            "queries", "deferrals", "strong_call_rate", "strong_calls", "calls", "tokens", "cost_usd",
            "cost_per_query", "unpriced_calls", "scored", "accuracy", "store_hits", "store_hit_rate",
            "weak_failures", "strategies_written", "strategy_duplicates", "strategy_parse_failures",
            "strategy_write_failures", "mean_retrieval_ms",
        ]  # fmt: skip
        return {name: getattr(self, name) for name in names}

    def windows(self, size: int) -> list[CascadeStats]:
        """The results in consecutive windows of `size` queries (the last may be shorter), in order.

        Raises:
            ConfigError: if `size` < 1.
        """
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"The window size must be an integer >= 1, got {size!r}.")
        return [CascadeStats(self.results[i : i + size]) for i in range(0, len(self.results), size)]

    def table(self, window: int = 10) -> str:
        """A markdown table of the metrics per window of `window` queries, then over all of them."""
        header = "| queries | strong-call rate | store hits | strategies written | cost / query (USD) | accuracy |"
        lines = [header, "|---|---|---|---|---|---|"]
        first = 1
        for part in self.windows(window):
            last = first + part.queries - 1
            lines.append(part._row(f"{first}–{last}" if last > first else str(first)))
            first += part.queries
        lines.append(self._row("all"))
        return "\n".join(lines)

    def _row(self, label: str) -> str:
        accuracy = "—" if self.accuracy is None else f"{self.accuracy:.0%}"
        cost = "—" if self.unpriced_calls and not self.cost_usd else f"{self.cost_per_query:.6f}"
        return (
            f"| {label} | {self.strong_call_rate:.0%} | {self.store_hit_rate:.0%} | {self.strategies_written} "
            f"| {cost} | {accuracy} |"
        )

    def _status(self, status: str) -> int:
        return sum(r.strategy_status == status for r in self.results)


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0
