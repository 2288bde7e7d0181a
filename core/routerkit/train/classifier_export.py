"""Export a fine-tuned classifier as one ONNX graph and shrink it to int8 without batch dependence.

1. `export_fp32`: transformer + mean pooling + head + softmax, inputs `input_ids`/`attention_mask`,
   output `probs` (TorchScript exporter, opset 17, eager attention — as `export_encoder.py`).
2. `quantise(..., "static")`: static QDQ int8 of the weight MatMuls, activation scales calibrated one
   prompt at a time (DESIGN §8: dynamic int8 depends on the batch). The FFN down-projections, whose
   GELU inputs have outliers that per-tensor activation int8 clips (`encoder.md`), keep fp32
   arithmetic. `quantise(..., "weight_only")`: fp32 arithmetic everywhere (the fallback).
3. Either way `weight_only_int8` then stores every large float weight left as int8 with one scale per
   output channel (a Gather table: per row, dequantised after the lookup). Weight-only int8 does not
   look at activations, so batch invariance holds; it brings the graph from ~90 MB to ~23 MB.
"""

from __future__ import annotations

import re
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from routerkit.train._torch import require

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from routerkit.train.classifier import ClassifierModel

__all__ = ["MODES", "OPSET", "export_fp32", "quantise", "torch_probs", "weight_only_int8"]

OPSET = 17
MIN_WEIGHT_ONLY = 100_000
"""Float initializers left after static quantisation with at least this many values get int8 storage."""


def _feeds(tokenizer: Tokenizer, texts: list[str]) -> dict[str, npt.NDArray[np.int64]]:
    encodings = tokenizer.encode_batch(texts)
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
    }


def torch_probs(model: ClassifierModel, tokenizer: Tokenizer, texts: list[str]) -> npt.NDArray[np.float64]:
    """Reference `float64[n, 3]` probabilities from the torch model (eval mode, fp32)."""
    torch = require("torch")
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(texts), 16):
            feeds = {k: torch.from_numpy(v) for k, v in _feeds(tokenizer, texts[start : start + 16]).items()}
            out.append(torch.softmax(model(feeds["input_ids"], feeds["attention_mask"]), dim=1).numpy())
    return np.concatenate(out).astype(np.float64)


def export_fp32(model: ClassifierModel, path: Path) -> None:
    """One fp32 graph: `input_ids`, `attention_mask` int64 `[B, S]` → `probs` float `[B, 3]`."""
    torch: Any = require("torch")

    class _WithSoftmax(torch.nn.Module):  # type: ignore[misc]
        def __init__(self, inner: ClassifierModel) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return torch.softmax(self.inner(input_ids, attention_mask), dim=1)

    model.eval()
    # Two rows of different true lengths, so the tracer sees real padding and keeps both axes dynamic.
    input_ids = torch.tensor([[101, 7592, 2088, 2003, 102], [101, 7592, 102, 0, 0]])
    dynamic = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings():
        # TorchScript export is deprecated in torch 2.13 and the tracer warns about shape checks in
        # transformers; both are expected (encoder.md §2) and parity is checked by the build.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _WithSoftmax(model),
            (input_ids, (input_ids != 0).long()),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["probs"],
            dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "probs": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


class _OneByOne:
    """Calibration prompts one at a time (batch 1 keeps padding out of the activation ranges)."""

    def __init__(self, feeds: list[dict[str, npt.NDArray[np.int64]]]) -> None:
        self.feeds = feeds
        self.set_range(0, len(feeds))

    def __len__(self) -> int:
        return len(self.feeds)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._items = iter(self.feeds[start_index:end_index])

    def get_next(self) -> dict[str, npt.NDArray[np.int64]] | None:
        return next(self._items, None)


def _ffn_down(model_path: Path) -> list[str]:
    onnx = require("onnx")
    nodes = onnx.load(str(model_path)).graph.node
    return [n.name for n in nodes if n.op_type == "MatMul" and re.search(r"layer\.\d+/output/dense/", n.name)]


MODES = ("static", "weight_only")
"""`static`: QDQ int8 MatMuls + weight-only int8 for the rest; `weight_only`: int8 storage, fp32 arithmetic."""


def quantise(
    model: ClassifierModel, tokenizer: Tokenizer, calibration: list[str], out: Path, mode: str, *, log: Any = print
) -> dict[str, float | int | str]:
    """Export and compress into `out` (`mode` in `MODES`); returns what was done."""
    shape_inference = require("onnxruntime.quantization.shape_inference", "Quantising the classifier")
    if mode not in MODES:
        raise ValueError(f"Unknown quantisation mode {mode!r}; use one of {MODES}.")
    with tempfile.TemporaryDirectory(prefix="routerkit-classifier-") as tmp:
        plain, pre, static = Path(tmp) / "fp32.onnx", Path(tmp) / "pre.onnx", Path(tmp) / "static.onnx"
        export_fp32(model, plain)
        if mode == "static":
            # Symbolic shape inference cannot resolve this export; ONNX shape inference is enough here.
            shape_inference.quant_pre_process(str(plain), str(pre), skip_symbolic_shape=True)
            _quantise_static(pre, static, [_feeds(tokenizer, [t]) for t in calibration])
        compressed = weight_only_int8(static if mode == "static" else plain, out)
        fp32_mb = plain.stat().st_size / 1e6
    log(f"graph ({mode}): fp32 {fp32_mb:.1f} MB -> {out.stat().st_size / 1e6:.1f} MB")
    described = {
        "static": "int8-static-qdq-per-channel (Percentile calibration, batch 1) for the MatMuls except the FFN "
        "down-projections; weight-only int8 (per channel) for those and the embedding tables",
        "weight_only": "weight-only int8 (per channel / per row) for every large weight; fp32 arithmetic",
    }
    return {
        "quantization": described[mode],
        "n_calibration": len(calibration) if mode == "static" else 0,
        "weight_only_int8": ", ".join(compressed),
        "fp32_graph_mb": round(fp32_mb, 1),
    }


def _quantise_static(src: Path, out: Path, feeds: list[dict[str, npt.NDArray[np.int64]]]) -> None:
    """QDQ int8 of the weight MatMuls with fixed activation scales; the FFN down-projections stay fp32."""
    quantization = require("onnxruntime.quantization", "Quantising the classifier")
    quantization.quantize_static(
        src,
        out,
        _OneByOne(feeds),
        quant_format=quantization.QuantFormat.QDQ,
        per_channel=True,
        weight_type=quantization.QuantType.QInt8,
        activation_type=quantization.QuantType.QUInt8,
        op_types_to_quantize=["MatMul"],
        nodes_to_exclude=_ffn_down(src),
        calibrate_method=quantization.CalibrationMethod.Percentile,
        extra_options={"MatMulConstBOnly": True, "CalibStridedMinMax": 1},
    )


def weight_only_int8(src: Path, out: Path) -> list[str]:
    """Store every large float initializer as int8 with one scale per output row/column.

    A Gather table is dequantised after the lookup (Gather int8 rows and their scales, Cast, Mul);
    any other use goes through a `DequantizeLinear` on the constant, which onnxruntime folds once.
    """
    onnx = require("onnx")
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    model = onnx.load(str(src))
    graph = model.graph
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    done = []
    for init in list(graph.initializer):
        value = numpy_helper.to_array(init)
        if value.dtype != np.float32 or value.ndim != 2 or value.size < MIN_WEIGHT_ONLY:
            continue
        users = consumers.get(init.name, [])
        gather = bool(users) and all(u.op_type == "Gather" and u.input[0] == init.name for u in users)
        axis = 0 if gather else 1  # rows of a table; output columns of a MatMul weight
        scale = np.abs(value).max(axis=1 - axis) / 127.0
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        q = np.round(value / np.expand_dims(scale, 1 - axis)).clip(-127, 127).astype(np.int8)
        graph.initializer.remove(init)
        graph.initializer.extend([numpy_helper.from_array(q, f"{init.name}_q")])
        if gather:
            graph.initializer.extend([numpy_helper.from_array(scale.reshape(-1, 1), f"{init.name}_scale")])
            for i, user in enumerate(users):
                _dequantise_after_gather(graph, user, init.name, f"{init.name}_{i}", helper, onnx)
        else:
            graph.initializer.extend(
                [
                    numpy_helper.from_array(scale, f"{init.name}_scale"),
                    numpy_helper.from_array(np.zeros_like(scale, dtype=np.int8), f"{init.name}_zero"),
                ]
            )
            dq = helper.make_node(
                "DequantizeLinear", [f"{init.name}_q", f"{init.name}_scale", f"{init.name}_zero"], [init.name], axis=1
            )
            graph.node.insert(0, dq)
        done.append(init.name)
    onnx.checker.check_model(model)
    onnx.save(model, str(out))
    return done


def _dequantise_after_gather(graph: Any, user: Any, table: str, prefix: str, helper: Any, onnx: Any) -> None:
    """Rewire `Gather(table, idx)` to `Cast(Gather(table_q, idx)) * Gather(table_scale, idx)`."""
    position = list(graph.node).index(user)
    indices, output = user.input[1], user.output[0]
    nodes = [
        helper.make_node("Gather", [f"{table}_q", indices], [f"{prefix}_rows_q"], axis=0),
        helper.make_node("Cast", [f"{prefix}_rows_q"], [f"{prefix}_rows"], to=onnx.TensorProto.FLOAT),
        helper.make_node("Gather", [f"{table}_scale", indices], [f"{prefix}_scales"], axis=0),
        helper.make_node("Mul", [f"{prefix}_rows", f"{prefix}_scales"], [output]),
    ]
    graph.node.remove(user)
    for offset, node in enumerate(nodes):
        graph.node.insert(position + offset, node)
