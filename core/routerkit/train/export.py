"""Export a trained MF model to an ONNX head and check it against torch."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from routerkit.errors import ArtifactError
from routerkit.runtime.session import create_session
from routerkit.train._torch import require
from routerkit.train.mf import MFModel

torch: Any = require("torch")

__all__ = ["HEAD_INPUT", "HEAD_OUTPUT", "export_head", "parity"]

HEAD_INPUT = "sentence_embedding"
HEAD_OUTPUT = "strengths"
OPSET = 17


class _FoldedHead(torch.nn.Module):  # type: ignore[misc]
    """The MF scorer folded into a single MatMul (see `MFModel.folded_matrix`)."""

    def __init__(self, matrix: Any) -> None:
        super().__init__()
        self.register_buffer("matrix", matrix.detach().clone().contiguous())

    def forward(self, embeddings: Any) -> Any:
        return embeddings @ self.matrix


def export_head(model: MFModel, path: Path) -> None:
    """Write the folded head to `path`: `sentence_embedding float[B, 384]` → `strengths float[B, K]`."""
    head = _FoldedHead(model.folded_matrix()).eval()
    dummy = torch.zeros(2, head.matrix.shape[0])
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # torch 2.13 deprecates the TorchScript exporter, which is still exact for a MatMul.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            head,
            (dummy,),
            buffer,
            input_names=[HEAD_INPUT],
            output_names=[HEAD_OUTPUT],
            dynamic_axes={HEAD_INPUT: {0: "batch"}, HEAD_OUTPUT: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    path.write_bytes(buffer.getvalue())


def parity(model: MFModel, path: Path, embeddings: npt.NDArray[np.float32], *, tolerance: float = 1e-4) -> float:
    """Max |torch − onnxruntime| strength over `embeddings`; raises if above `tolerance`.

    Compares the unfolded training model with the exported folded head, so it also checks the fold.
    """
    with torch.no_grad():
        expected = model(torch.from_numpy(embeddings)).numpy()
    (actual,) = create_session(path, device="cpu").run([HEAD_OUTPUT], {HEAD_INPUT: embeddings})
    diff = float(np.max(np.abs(expected - actual)))
    if diff > tolerance:
        raise ArtifactError(f"ONNX head {str(path)!r} differs from torch by {diff:.2e} (> {tolerance:.0e}).")
    return diff
