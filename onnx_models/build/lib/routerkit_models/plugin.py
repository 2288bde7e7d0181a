"""Registers the shipped artifacts with routerkit (entry point `routerkit` → `models`)."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from importlib.resources.abc import Traversable

from routerkit import hookimpl

__all__ = ["register_encoders", "register_router_artifacts"]


def _folders(kind: str) -> list[Traversable]:
    root = files("routerkit_models") / kind
    return sorted(
        (entry for entry in root.iterdir() if entry.is_dir() and (entry / "manifest.json").is_file()),
        key=lambda entry: entry.name,
    )


@hookimpl
def register_encoders(register: Callable[..., None]) -> None:
    """Register every folder under `routerkit_models/encoders/` by its folder name."""
    for folder in _folders("encoders"):
        register(folder.name, folder)


@hookimpl
def register_router_artifacts(register: Callable[..., None]) -> None:
    """Register every folder under `routerkit_models/routers/` by its folder name."""
    for folder in _folders("routers"):
        register(folder.name, folder)
