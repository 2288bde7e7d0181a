"""`load` and `list_routers`: resolve a name to a router through the plugin registries."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from importlib.resources import as_file
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from routerkit.artifacts import RouterManifest, read_manifest
from routerkit.errors import ArtifactError, ConfigError, UnknownNameError
from routerkit.plugins.manager import Plugins, default_plugins
from routerkit.routers.base import Router
from routerkit.runtime.encoder import Encoder
from routerkit.runtime.session import Device

__all__ = ["RouterInfo", "list_routers", "load", "load_encoder"]

_files = ExitStack()  # keeps `as_file` extractions alive for the process (zip-installed packages)
_encoders: dict[tuple[str, str, int | None], Encoder] = {}  # by (folder, device, threads)


@dataclass(frozen=True)
class RouterInfo:
    """What `list_routers` reports for each loadable name."""

    name: str
    kind: str
    source: str
    """`artifact` (trained, shipped or plugin-provided) or `kind` (artifact-free, e.g. baselines)."""
    status: str
    description: str


def list_routers(plugins: Plugins | None = None) -> list[RouterInfo]:
    """Every name `routerkit.load` accepts: registered artifacts, then artifact-free kinds."""
    registry = plugins or default_plugins()
    infos = []
    for name, locator in sorted(registry.artifacts().items()):
        manifest = _router_manifest(name, locator)
        infos.append(RouterInfo(name, manifest.kind, "artifact", manifest.status, manifest.description))
    for kind in sorted(registry.kinds().values(), key=lambda k: k.name):
        if not kind.needs_artifact:
            infos.append(RouterInfo(kind.name, kind.name, "kind", "baseline", f"from plugin {kind.plugin!r}"))
    return infos


def load(
    name: str | Path,
    *,
    device: Device = "cpu",
    threads: int | None = None,
    plugins: Plugins | None = None,
    **options: Any,
) -> Router:
    """Load a router by name: a registered artifact (`mf`), an artifact-free kind (`random`, `length`), or
    an artifact folder (a `Path`, or a string containing a path separator, e.g. `./my_router`).

    Args:
        name: see `routerkit.list_routers()`; or an artifact folder.
        device: `cpu`, `cuda` or `auto` (see `routerkit.runtime.create_session`).
        threads: onnxruntime intra-op threads (None: all cores).
        plugins: the plugin registries to use (default: the installed plugins).
        **options: passed to the router kind (e.g. `strong=`, `weak=`, `seed=`).

    Raises:
        UnknownNameError: listing the valid names.
        ArtifactError: if an artifact is missing, tampered or inconsistent.
    """
    if isinstance(name, Path) or (isinstance(name, str) and _looks_like_folder(name)):
        folder = Path(name)
        if not (folder / "manifest.json").is_file():
            raise ArtifactError(
                f"{str(folder)!r} is not a router artifact: it has no manifest.json. Pass the folder that "
                "`routerkit train --out` wrote, or a registered name (see `routerkit list`)."
            )
        registry = plugins or default_plugins()
        return _load_artifact(registry, folder.name, folder, device=device, threads=threads, **options)
    if not isinstance(name, str):
        raise ConfigError(f"A router name must be a string, got {type(name).__name__} ({name!r}).")
    registry = plugins or default_plugins()
    artifacts, kinds = registry.artifacts(), registry.kinds()
    if name in artifacts:
        return _load_artifact(registry, name, artifacts[name], device=device, threads=threads, **options)
    if name in kinds and not kinds[name].needs_artifact:
        router: Router = kinds[name].factory(**options)
        return router
    loadable = [*artifacts, *(k for k, v in kinds.items() if not v.needs_artifact)]
    hint = "Run `routerkit list` or `routerkit.list_routers()` to see them."
    if "routerkit-models" not in {p.distribution for p in registry.loaded}:
        hint += " Shipped routers come with `pip install routerkit-models`."
    raise UnknownNameError("router", name, loadable, hint)


def _looks_like_folder(name: str) -> bool:
    """Registered names never contain a path separator (`[a-z0-9_]+`); folders given as strings do."""
    return "/" in name or "\\" in name or name in (".", "..")


def _path(locator: Traversable | Path) -> Path:
    if isinstance(locator, Path):
        return locator
    return _files.enter_context(as_file(locator))


def _router_manifest(name: str, locator: Traversable | Path) -> RouterManifest:
    manifest = read_manifest(_path(locator), RouterManifest)
    assert isinstance(manifest, RouterManifest)  # read_manifest returns the schema it was given
    return manifest


def _load_artifact(
    registry: Plugins,
    name: str,
    locator: Traversable | Path,
    *,
    device: Device,
    threads: int | None,
    **options: Any,
) -> Router:
    directory = _path(locator)
    manifest = _router_manifest(name, locator)
    kinds = registry.kinds()
    if manifest.kind not in kinds:
        raise UnknownNameError(
            "router kind",
            manifest.kind,
            kinds,
            f"Artifact {name!r} needs it; install the plugin that provides the `{manifest.kind}` kind.",
        )
    encoder = load_encoder(manifest.encoder.name, device=device, threads=threads, plugins=registry)
    router: Router = kinds[manifest.kind].factory(
        directory, manifest, encoder, device=device, threads=threads, **options
    )
    return router


def load_encoder(
    name: str, *, device: Device = "cpu", threads: int | None = None, plugins: Plugins | None = None
) -> Encoder:
    """Load a registered encoder; routers on one encoder folder, device and thread count share it.

    Raises:
        ArtifactError: if no plugin registered `name`, or its files fail verification.
    """
    encoders = (plugins or default_plugins()).encoders()
    if name not in encoders:
        raise ArtifactError(
            f"The encoder {name!r} a router needs is not registered (registered: "
            f"{sorted(encoders) or 'none'}). Install `routerkit-models`."
        )
    directory = _path(encoders[name])
    key = (str(directory), device, threads)
    if key not in _encoders:
        _encoders[key] = Encoder(directory, device=device, threads=threads)
    return _encoders[key]
