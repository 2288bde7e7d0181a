"""routerkit's own router kinds, registered through the same hook as any plugin's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from routerkit.plugins.hookspecs import hookimpl


def _mf(directory: Path, manifest: Any, encoder: Any, **options: Any) -> Any:
    from routerkit.routers.mf import MFRouter

    return MFRouter(directory, manifest, encoder, **options)


def _sw(directory: Path, manifest: Any, encoder: Any, **options: Any) -> Any:
    from routerkit.routers.sw import SWRouter

    return SWRouter(directory, manifest, encoder, **options)


def _classifier(directory: Path, manifest: Any, encoder: Any, **options: Any) -> Any:
    from routerkit.routers.classifier import ClassifierRouter

    return ClassifierRouter(directory, manifest, encoder, **options)


def _head(directory: Path, manifest: Any, encoder: Any, **options: Any) -> Any:
    from routerkit.routers.head import HeadRouter

    return HeadRouter(directory, manifest, encoder, **options)


def _adapted(directory: Path, manifest: Any, encoder: Any, **options: Any) -> Any:
    from routerkit.routers.adapted import AdaptedRouter

    return AdaptedRouter(directory, manifest, encoder, **options)


def _random(**options: Any) -> Any:
    from routerkit.routers.baselines import RandomRouter

    return RandomRouter(**options)


def _length(**options: Any) -> Any:
    from routerkit.routers.baselines import LengthRouter

    return LengthRouter(**options)


@hookimpl
def register_routers(register: Callable[..., None]) -> None:
    """Register `mf`, `sw`, `classifier`, the head kinds (`knn`, `embedllm`, `zooter`), `random` and `length`."""
    register("mf", _mf, needs_artifact=True)
    register("sw", _sw, needs_artifact=True)
    register("classifier", _classifier, needs_artifact=True)
    for kind in ("knn", "embedllm", "zooter"):  # trained differently, run alike: encoder → ONNX head
        register(kind, _head, needs_artifact=True)
    register("adapted", _adapted, needs_artifact=True)
    register("random", _random, needs_artifact=False)
    register("length", _length, needs_artifact=False)
