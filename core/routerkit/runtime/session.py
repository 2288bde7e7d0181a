"""The one onnxruntime session factory: provider choice, threads, and install diagnostics.

Nothing else in routerkit constructs `onnxruntime.InferenceSession`. onnxruntime is imported lazily so
that `import routerkit` stays light.
"""

from __future__ import annotations

import importlib.metadata
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from routerkit.errors import BackendError, ConfigError, RouterkitWarning

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["Device", "available_providers", "create_session", "providers_for"]

Device = Literal["auto", "cpu", "cuda"]
_DEVICES = ("auto", "cpu", "cuda")
_CUDA = "CUDAExecutionProvider"
_CPU = "CPUExecutionProvider"


def available_providers() -> list[str]:
    """Return the execution providers of the installed onnxruntime."""
    import onnxruntime

    return list(onnxruntime.get_available_providers())


def double_install_hint() -> str:
    """Explain the `onnxruntime` + `onnxruntime-gpu` double install, or return "" if absent."""
    installed = []
    for dist in ("onnxruntime", "onnxruntime-gpu"):
        try:
            installed.append(f"{dist}=={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    if len(installed) < 2:
        return ""
    return (
        f" Both {installed[0]} and {installed[1]} are installed; they share one import package and "
        "the CPU wheel hides CUDA. Fix: `pip uninstall -y onnxruntime onnxruntime-gpu && "
        "pip install onnxruntime-gpu`."
    )


def providers_for(device: str, available: list[str]) -> list[str]:
    """Choose execution providers for `device` among `available`.

    Raises:
        ConfigError: for an unknown device, or `cuda` without a CUDA provider.
    """
    if device not in _DEVICES:
        raise ConfigError(f"Unknown device {device!r}. Use one of {', '.join(map(repr, _DEVICES))}.")
    if device == "cpu":
        return [_CPU]
    if _CUDA in available:
        return [_CUDA, _CPU]
    if device == "cuda":
        raise ConfigError(
            f"device='cuda' was requested but onnxruntime offers no {_CUDA} "
            f"(available: {', '.join(available)}).{double_install_hint()} "
            "Install `onnxruntime-gpu` in place of `onnxruntime`, or pass device='cpu' or 'auto'."
        )
    return [_CPU]


def create_session(path: Path, *, device: Device = "cpu", threads: int | None = None) -> onnxruntime.InferenceSession:
    """Create an inference session for the ONNX file at `path`.

    Args:
        path: the `.onnx` file (already verified by its manifest's sha256).
        device: `cpu` (the default: a router's single-prompt latency is lowest there), `cuda` (an
            error if no CUDA provider), or `auto` (CUDA if usable, else the CPU with a
            `RouterkitWarning`).
        threads: intra-op threads; None lets onnxruntime use every core.

    Raises:
        ConfigError: for a bad `device` or `cuda` without CUDA.
        BackendError: if onnxruntime cannot load the graph.
    """
    import onnxruntime

    available = available_providers()
    providers = providers_for(device, available)
    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own untyped errors; translate at this boundary
        raise BackendError(f"onnxruntime could not load {str(path)!r}: {exc}") from exc
    granted = session.get_providers()
    if device == "cuda" and _CUDA not in granted:
        # onnxruntime lists CUDA but drops it silently when the CUDA libraries fail to load.
        raise ConfigError(
            f"device='cuda' was requested but onnxruntime could not start {_CUDA} for "
            f"{path.name!r} (granted: {', '.join(granted)}). Check the CUDA/cuDNN libraries "
            "onnxruntime-gpu needs, or pass device='cpu'."
        )
    if device == "auto" and _CUDA not in granted:
        warnings.warn(
            f"device='auto' fell back to the CPU for {path.name!r}: no usable {_CUDA}."
            f"{double_install_hint()} Pass device='cpu' to silence this warning.",
            RouterkitWarning,
            stacklevel=2,
        )
    return session
