"""The report of `bench/run.py`: the machine, the results table with the DESIGN §6 targets, the reading.

Builds `docs/benchmarks.md` from the figures `run.py` measured; measures nothing itself. Only the stdlib
and numpy are imported at module level, for the same reason as in `run.py`: a benchmark subprocess
imports `run`, and with it this module, after it has timed `import routerkit` (or torch).
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from routerkit.routers.mf import MFRouter

# The run's settings that the report states; `run.py` measures with them.
N_PROMPTS = 200
LATENCY_CALLS = 1000
BATCH_REPEATS = 12
CHILD_REPEATS = 5
BUSY_LOAD = 0.25  # load average per core above which the machine counts as busy
CPU_FLAGS = ("avx512f", "avx512_vnni", "avx_vnni", "amx_tile", "amx_int8")


# ---------------------------------------------------------------------------------------------- machine


def cpu_info() -> tuple[str, list[str]]:
    """CPU model name and which of `CPU_FLAGS` it has."""
    model, flags = "unknown", set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model == "unknown":
            model = value.strip()
        elif key.strip() == "flags":
            flags = set(value.split())
    return model, [flag for flag in CPU_FLAGS if flag in flags]


def facts(router: MFRouter, load_at_start: float) -> dict[str, Any]:
    """What the reading needs to explain a figure: encoder format and size, cores, machine load."""
    manifest = router.encoder.manifest
    return {
        "quantization": manifest.quantization,
        "encoder_mb": manifest.files[manifest.model_file].bytes / 1e6,
        "cores": len(os.sched_getaffinity(0)),
        "load": load_at_start,
    }


def machine(router: MFRouter, fact: dict[str, Any]) -> list[tuple[str, str]]:
    """Rows of the machine table."""
    import onnxruntime
    import sentence_transformers
    import torch

    model, flags = cpu_info()
    return [
        ("CPU", model),
        ("cores usable", f"{fact['cores']} (`os.cpu_count()` = {os.cpu_count()})"),
        ("flags (of " + ", ".join(CPU_FLAGS) + ")", ", ".join(flags) or "none"),
        ("load average (1 min), start / end", f"{fact['load']:.2f} / {os.getloadavg()[0]:.2f}"),
        ("onnxruntime", f"{onnxruntime.__version__}, {', '.join(router.head().get_providers())}"),
        ("ORT threads (routerkit)", f"`threads={router.encoder.threads}`: intra-op one per core, inter-op 1"),
        ("encoder", f"{router.encoder.manifest.name}, {fact['quantization']}, {fact['encoder_mb']:.0f} MB"),
        ("torch", f"{torch.__version__}, {torch.get_num_threads()} threads"),
        ("sentence-transformers", sentence_transformers.__version__),
        ("Python", f"{platform.python_version()} ({platform.machine()})"),
        ("date", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
    ]


# ---------------------------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Row:
    """One line of the results table, and why it misses its target (printed only if it does)."""

    metric: str
    routerkit: str
    torch: str
    ratio: str
    target: str
    met: bool | None
    why: str = ""

    def cells(self) -> list[str]:
        """Markdown cells."""
        met = {True: "yes", False: "**no**", None: "—"}[self.met]
        return [self.metric, self.routerkit, self.torch, self.ratio, self.target, met]


def _times(ratio: float) -> str:
    return f"{ratio:.1f}×" if ratio < 100 else f"{ratio:.0f}×"


def _at_most(metric: str, ours: float, theirs: float, limit: float, unit: str, why: str, fmt: str = ".2f") -> Row:
    """A smaller-is-better row; the ratio is theirs / ours."""
    cells = f"{ours:{fmt}} {unit}", f"{theirs:{fmt}} {unit}", _times(theirs / ours), f"≤ {limit:g} {unit}"
    return Row(metric, *cells, ours <= limit, why)


def _reasons(rk: dict[str, Any], fact: dict[str, Any]) -> dict[str, str]:
    """Why each figure is what it is, phrased for the case where it misses its target."""
    enc, route = rk["encoder_run"].p50, rk["route"].p50
    encoder = f"the {fact['encoder_mb']:.0f} MB {fact['quantization']} encoder"
    return {
        "p50": f"the session run of {encoder} is {100 * enc / route:.0f}% of it ({_ms(enc)}); tokenizing, the head "
        f"and building the `Decision` add {_ms(route - enc)}",
        "p99": f"the same encoder run plus scheduling noise on {fact['cores']} shared cores "
        f"(load average {fact['load']:.2f} when the run started)",
        "batch": f"a batch of 64 is one padded run of {encoder} on {fact['cores']} cores: matmul-bound",
        "speedup": "both paths run the same MiniLM matmuls; at batch 64 framework overhead is amortised",
        "import": "`import routerkit` is lazy; something now imports eagerly",
        "leak": "a runtime module imports a framework",
        "load": f"sha256 verification of {encoder}, manifest validation and, on first use, two onnxruntime sessions",
        "rss": f"{encoder} as loaded by onnxruntime (plus its arena) on top of Python, numpy and pydantic",
    }


def results(
    rk: dict[str, Any], tp: dict[str, Any], rkc: dict[str, Any], tpc: dict[str, Any], fact: dict[str, Any]
) -> list[Row]:
    """The results table: routerkit beside the torch path, with the DESIGN §6 targets."""
    why = _reasons(rk, fact)
    ups = [tp["route"].p50 / rk["route"].p50, tp["route"].p99 / rk["route"].p99, rk["throughput"] / tp["throughput"]]
    batch = (f"{rk['throughput']:.0f} prompts/s", f"{tp['throughput']:.0f} prompts/s", _times(ups[2]))
    leaked = ", ".join(rkc["leaked"]) or "none"
    return [
        _at_most("decision latency p50, 1 prompt", rk["route"].p50, tp["route"].p50, 5, "ms", why["p50"]),
        _at_most("decision latency p99, 1 prompt", rk["route"].p99, tp["route"].p99, 15, "ms", why["p99"]),
        Row("throughput, batch 64", *batch, "≥ 400 prompts/s", rk["throughput"] >= 400, why["batch"]),
        Row(
            "speed-up over the torch path (p50 / p99 / batch 64)",
            " / ".join(map(_times, ups)),
            "1×",
            "—",
            "≥ 3× each",
            min(ups) >= 3,
            why["speedup"],
        ),
        _at_most("`import` time (fresh process)", rkc["import_s"], tpc["import_s"], 0.3, "s", why["import"], ".3f"),
        Row(
            "torch or a framework in `sys.modules` (import, load, use)",
            leaked,
            "—",
            "—",
            "none",
            not rkc["leaked"],
            why["leak"],
        ),
        _at_most("load (`routerkit.load` / model + head)", rkc["load_s"], tpc["load_s"], 1, "s", why["load"], ".3f"),
        _at_most("load + first decision", rkc["first_s"], tpc["first_s"], 1, "s", why["load"], ".3f"),
        _at_most("peak RSS (load + 10 batches of 64)", rkc["rss_mb"], tpc["rss_mb"], 300, "MB", why["rss"], ".0f"),
    ]


def breakdown(rk: dict[str, Any]) -> list[list[str]]:
    """Rows of the latency-breakdown table (p50 / p99 and share of a decision's p50)."""
    total = rk["route"].p50
    parts = [
        ("tokenize + input arrays", rk["tokenize"]),
        ("encoder session run", rk["encoder_run"]),
        ("head session run (its own graph)", rk["head_run"]),
    ]
    rows = [[name, _ms(t.p50), _ms(t.p99), f"{100 * t.p50 / total:.1f}%"] for name, t in parts]
    rest = total - sum(t.p50 for _, t in parts)
    rows.append(["rest of `route` (policy, `Decision`, hooks)", _ms(rest), "—", f"{100 * rest / total:.1f}%"])
    return [*rows, ["`router.route` total", _ms(total), _ms(rk["route"].p99), "100%"]]


def fusion(rk: dict[str, Any]) -> list[list[str]]:
    """Rows comparing encoder only, encoder + separate head, and one fused graph."""
    rows = [
        ("encoder only: `encoder.embed`", rk["embed"]),
        ("encoder + head as two graphs: `router.strengths`", rk["strengths"]),
        ("encoder + head fused into one graph (tokenize + run)", rk["fused"]),
        ("encoder session run alone", rk["encoder_run"]),
        ("fused session run alone", rk["fused_run"]),
    ]
    return [[name, _ms(t.p50), _ms(t.p99)] for name, t in rows]


def _ms(value: float) -> str:
    """Milliseconds, or microseconds below 1 ms."""
    return f"{value:.2f} ms" if value >= 1 else f"{value * 1000:.0f} µs"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def reading(rows: list[Row], rk: dict[str, Any], agree: dict[str, float], fact: dict[str, Any]) -> list[str]:
    """A short honest reading: what misses a target and why, what the head costs, how far the paths agree."""
    missed = [f"- **Missed: {r.metric}** — {r.routerkit} against {r.target}: {r.why}." for r in rows if r.met is False]
    busy = fact["load"] > BUSY_LOAD * fact["cores"]
    return [
        *(missed or ["- Every target is met."]),
        *(
            [f"- The machine was busy (load average {fact['load']:.2f} at the start): every figure is pessimistic."]
            if busy
            else []
        ),
        f"- The head as its own graph costs {_ms(rk['head_run'].p50)} per decision. Encoder + head take "
        f"{_ms(rk['strengths'].p50)} as two graphs and {_ms(rk['fused'].p50)} fused into one: keeping the head "
        "separate (one encoder session shared by every head) costs next to nothing.",
        f"- The paths agree: max |score difference| {agree['max_abs_diff']:.2g} over {agree['n']:.0f} prompts, "
        f"{100 * agree['same_decisions']:.1f}% identical decisions at the default threshold.",
        "- The torch path only computes scores, while `route` also applies the policy and builds a `Decision`, "
        "so the speed-ups are if anything understated. `routerkit.load` opens no onnxruntime session (they open "
        "on first use), so 'load + first decision' is what a user waits for.",
    ]


def report(
    machine_rows: list[tuple[str, str]],
    rows: list[Row],
    rk: dict[str, Any],
    agree: dict[str, float],
    fact: dict[str, Any],
    n_words: float,
) -> str:
    """The whole Markdown page."""
    header = ["metric", "routerkit", "torch + sentence-transformers", "ratio", "target (DESIGN §6)", "met?"]
    return (
        "\n\n".join(
            [
                "# Benchmarks",
                "Generated by `bench/run.py`; do not edit by hand. The shipped `mf` router against the same router run "
                "through torch + sentence-transformers (all-MiniLM-L6-v2 and the same head weights), in one run on one "
                f"machine. Prompts: {N_PROMPTS} synthetic English prompts (questions, coding, maths, chit-chat), "
                f"{n_words:.0f} words on average; single-prompt figures cycle through them.",
                "## Reproduce\n\n```sh\nmake bench\n```",
                "## Machine\n\n" + table(["", ""], [list(r) for r in machine_rows]),
                "## Results\n\n" + table(header, [r.cells() for r in rows]),
                f"Latency: {LATENCY_CALLS} warm calls. Throughput: 64 / median of {BATCH_REPEATS} batch times. Import, "
                f"load and RSS: medians of {CHILD_REPEATS} fresh processes. Ratios are routerkit's advantage.",
                "## Latency breakdown (one prompt)\n\n" + table(["stage", "p50", "p99", "share of p50"], breakdown(rk)),
                "### Head as its own graph vs fused\n\n" + table(["path", "p50", "p99"], fusion(rk)),
                "## Reading\n\n" + "\n".join(reading(rows, rk, agree, fact)),
            ]
        )
        + "\n"
    )
