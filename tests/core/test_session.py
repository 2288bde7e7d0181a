"""The session factory: device choice, CUDA errors, and the double-install diagnosis."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from routerkit.errors import BackendError, ConfigError, RouterkitWarning
from routerkit.runtime import session as session_module
from routerkit.runtime.session import available_providers, create_session, providers_for

HAS_CUDA = "CUDAExecutionProvider" in available_providers()


@pytest.fixture
def identity_model(tmp_path: Path) -> Path:
    """A KB-sized ONNX graph (y = x) to open sessions on."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "identity", [x], [y])
    path = tmp_path / "identity.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_cpu_session_runs(identity_model: Path) -> None:
    session = create_session(identity_model, device="cpu", threads=1)
    (out,) = session.run(["y"], {"x": np.arange(3, dtype=np.float32)})
    assert out.tolist() == [0.0, 1.0, 2.0]
    assert session.get_providers() == ["CPUExecutionProvider"]


@pytest.mark.skipif(HAS_CUDA, reason="checks the error raised where no CUDA provider exists")
def test_cuda_without_gpu_is_a_clear_error(identity_model: Path) -> None:
    with pytest.raises(ConfigError, match=r"device='cuda' was requested.*onnxruntime-gpu.*device='cpu'"):
        create_session(identity_model, device="cuda")


@pytest.mark.skipif(HAS_CUDA, reason="checks the CPU fallback where no CUDA provider exists")
def test_auto_falls_back_to_cpu_with_a_warning(identity_model: Path) -> None:
    with pytest.warns(RouterkitWarning, match="fell back to the CPU"):
        session = create_session(identity_model, device="auto")
    assert session.get_providers() == ["CPUExecutionProvider"]


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs onnxruntime's CUDAExecutionProvider")
def test_cuda_session_uses_the_gpu(identity_model: Path) -> None:
    assert create_session(identity_model, device="cuda").get_providers()[0] == "CUDAExecutionProvider"


def test_unknown_device_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"Unknown device 'tpu'.*'auto', 'cpu', 'cuda'"):
        providers_for("tpu", ["CPUExecutionProvider"])


def test_double_install_is_diagnosed(monkeypatch: pytest.MonkeyPatch) -> None:
    versions = {"onnxruntime": "1.32.0", "onnxruntime-gpu": "1.32.0"}

    def fake_version(name: str) -> str:
        if name in versions:
            return versions[name]
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(session_module.importlib.metadata, "version", fake_version)
    with pytest.raises(ConfigError, match=r"Both onnxruntime==1.32.0 and onnxruntime-gpu==1.32.0.*pip uninstall"):
        providers_for("cuda", ["CPUExecutionProvider"])


def test_unreadable_model_is_a_backend_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(BackendError, match="could not load"):
        create_session(bad, device="cpu")
