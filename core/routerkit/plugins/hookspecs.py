"""Every routerkit hook. These docstrings are the plugin reference.

Hooks that register things receive a host-built `register` callback (the simonw/llm style): one plugin
can register many objects, skip some conditionally, and the callback can grow keyword arguments
without breaking plugins. Plugins register cheap descriptors; sessions open on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from routerkit.clients import ModelClient
    from routerkit.routers.decision import Decision

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("routerkit")
hookimpl = pluggy.HookimplMarker("routerkit")


@hookspec
def register_routers(register: Callable[..., None]) -> None:
    """Register router kinds.

    Call `register(name, factory, *, needs_artifact)` for each kind:

    - `name` matches `[a-z0-9_]+`;
    - `needs_artifact=False`: `factory(**options) -> Router` (e.g. `random`, `length`);
    - `needs_artifact=True`: `factory(directory, manifest, encoder, **options) -> Router`, called by
      `routerkit.load` for artifacts whose manifest `kind` is `name`.
    """


@hookspec
def register_router_artifacts(register: Callable[..., None]) -> None:
    """Register router artifacts (folders with `manifest.json`).

    Call `register(name, locator)`, where `locator` is an `importlib.resources` traversable (or a
    `pathlib.Path`) of the artifact folder. `routerkit_models` is the first implementer.
    """


@hookspec
def register_encoders(register: Callable[..., None]) -> None:
    """Register encoder artifacts: `register(name, locator)`, as for router artifacts."""


@hookspec
def on_route_decision(decision: Decision) -> None:
    """Observe every routing decision (logging, metrics).

    Called only when at least one plugin implements it, so routing pays nothing otherwise. Must not
    raise and should return quickly: it runs on the request path.
    """


@hookspec(firstresult=True)
def resolve_client(model: object) -> ModelClient | None:
    """Wrap a framework's model object as a `routerkit.clients.ModelClient`, or return None.

    Each framework integration implements this for its own model types (e.g. a LangChain
    `BaseChatModel`), so core compositions can call them; the first non-None answer wins. Must not
    import its framework unless `model` is one of its objects' types (check `type(model).__module__`).
    """
