"""The EmbedLLM ONNX head, written from and read back into numpy (no torch: probing a head needs none).

The graph is `σ(Gemm(Gemm(e, tower_w, tower_b), modelsᵀ, bias))`, with the prompt tower and the model
embeddings stored as named initializers, so a new model can be appended to a shipped head.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from routerkit.errors import ArtifactError

__all__ = ["HEAD_ARRAYS", "OPSET", "head_arrays", "write_head"]

HEAD_ARRAYS = ("tower_w", "tower_b", "models", "bias")
"""Initializer names: `tower_w [embedding_dim, dim]`, `tower_b [dim]`, `models [n_models, dim]`, `bias [n_models]`."""
OPSET = 17


def write_head(arrays: dict[str, npt.NDArray[np.float32]], path: Path, *, input_name: str, output_name: str) -> None:
    """Write the head: `input_name float32[batch, embedding_dim]` → `output_name float32[batch, n_models]`."""
    nodes = [
        helper.make_node("Gemm", [input_name, "tower_w", "tower_b"], ["features"]),
        helper.make_node("Gemm", ["features", "models", "bias"], ["logits"], transB=1),
        helper.make_node("Sigmoid", ["logits"], [output_name]),
    ]
    graph = helper.make_graph(
        nodes,
        "embedllm_head",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", arrays["tower_w"].shape[0]])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["batch", arrays["models"].shape[0]])],
        [numpy_helper.from_array(np.ascontiguousarray(arrays[name], dtype=np.float32), name) for name in HEAD_ARRAYS],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="routerkit")
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())


def head_arrays(path: Path) -> dict[str, npt.NDArray[np.float32]]:
    """The tower and model weights stored in an EmbedLLM ONNX head, by initializer name.

    Raises:
        ArtifactError: if the file is unreadable or not an EmbedLLM head.
    """
    try:
        graph = onnx.load(str(path)).graph
    except Exception as exc:  # onnx raises several untyped errors for unreadable files
        raise ArtifactError(f"Cannot read the ONNX head {str(path)!r}: {exc}") from exc
    found = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    missing = [name for name in HEAD_ARRAYS if name not in found]
    if missing:
        raise ArtifactError(
            f"{str(path)!r} is not an EmbedLLM head: initializers {missing!r} are missing. "
            "Rebuild it with `python -m routerkit.train.build_embedllm`."
        )
    return {name: np.asarray(found[name], dtype=np.float32) for name in HEAD_ARRAYS}
