"""Plugin discovery and the registries built from the hooks.

Loading is lazy (on first registry access, never at import) and isolated per plugin: a plugin that
fails to import, misspells a hook or raises while registering is recorded, reported with a
`RouterkitWarning`, and skipped; the rest keep working.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from routerkit import _env
from routerkit.artifacts import NAME_PATTERN
from routerkit.errors import PluginError, RouterkitWarning
from routerkit.plugins import hookspecs

if TYPE_CHECKING:
    from routerkit.routers.decision import Decision

__all__ = [
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "PluginFailure",
    "PluginInfo",
    "Plugins",
    "RouterKind",
    "default_plugins",
    "get_plugin_manager",
    "notify_decision",
    "set_default_plugins",
]

ENTRY_POINT_GROUP = "routerkit"
DEFAULT_PLUGINS = ("routerkit.plugins.builtin",)
_NAME = re.compile(NAME_PATTERN)


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded or failed while registering."""

    name: str
    distribution: str
    error: str


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin and where it came from."""

    name: str
    distribution: str
    version: str


@dataclass(frozen=True)
class RouterKind:
    """A registered router kind: its factory and whether it loads from an artifact."""

    name: str
    factory: Callable[..., Any]
    needs_artifact: bool
    plugin: str


def get_plugin_manager() -> pluggy.PluginManager:
    """A fresh plugin manager with routerkit's hookspecs and built-in plugins only.

    Third-party plugins are loaded by `Plugins.load_entry_points`, which records their failures.
    """
    manager = pluggy.PluginManager("routerkit")
    manager.add_hookspecs(hookspecs)
    for module_name in DEFAULT_PLUGINS:
        manager.register(importlib.import_module(module_name), name=module_name)
    return manager


@dataclass
class Plugins:
    """A plugin manager plus what loading it produced: plugins, failures and the registries."""

    manager: pluggy.PluginManager = field(default_factory=get_plugin_manager)
    loaded: list[PluginInfo] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)
    _kinds: dict[str, RouterKind] | None = None
    _artifacts: dict[str, Traversable | Path] | None = None
    _encoders: dict[str, Traversable | Path] | None = None

    def load_entry_points(self) -> None:
        """Load every plugin of the `routerkit` entry-point group that the environment allows."""
        allowed, blocked = _env.plugins_allowed(), _env.plugins_blocked()
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = entry_point.dist.name if entry_point.dist else "?"
            if (allowed is not None and dist not in allowed) or {dist, entry_point.name} & blocked:
                self.manager.set_blocked(entry_point.name)
                continue
            self._load_one(entry_point, dist)
        self._invalidate()

    def _load_one(self, entry_point: importlib.metadata.EntryPoint, dist: str) -> None:
        try:
            plugin = entry_point.load()
            self.manager.register(plugin, name=entry_point.name)
        except Exception as exc:  # a plugin may fail in any way; isolate it
            self._fail(entry_point.name, dist, exc)
            return
        try:
            self.manager.check_pending()
        except pluggy.PluginValidationError as exc:
            self.manager.unregister(plugin)
            self._fail(entry_point.name, dist, exc)
            return
        version = entry_point.dist.version if entry_point.dist else "?"
        self.loaded.append(PluginInfo(entry_point.name, dist, version))

    def _fail(self, name: str, dist: str, exc: BaseException) -> None:
        failure = PluginFailure(name, dist, f"{type(exc).__name__}: {exc}")
        self.failures.append(failure)
        warnings.warn(
            f"routerkit plugin {name!r} (distribution {dist!r}) was skipped: {failure.error}. "
            "Run `routerkit plugins` for details, or block it with `ROUTERKIT_DISABLE_PLUGINS`.",
            RouterkitWarning,
            stacklevel=3,
        )

    def _invalidate(self) -> None:
        self._kinds = self._artifacts = self._encoders = None

    def register(self, plugin: object, name: str | None = None) -> None:
        """Register a plugin object (module or class instance) and rebuild the registries."""
        self.manager.register(plugin, name=name)
        self.manager.check_pending()
        self._invalidate()

    def unregister(self, plugin: object) -> None:
        """Unregister a plugin and rebuild the registries."""
        self.manager.unregister(plugin)
        self._invalidate()

    def kinds(self) -> dict[str, RouterKind]:
        """Router kinds by name."""
        if self._kinds is None:
            kinds: dict[str, RouterKind] = {}

            def add(plugin: str, name: str, factory: Callable[..., Any], *, needs_artifact: bool) -> None:
                _claim(kinds, "router kind", name, plugin)
                kinds[name] = RouterKind(name, factory, needs_artifact, plugin)

            self._collect("register_routers", add)
            self._kinds = kinds
        return self._kinds

    def artifacts(self) -> dict[str, Traversable | Path]:
        """Router artifact folders by name."""
        if self._artifacts is None:
            self._artifacts = self._locators("register_router_artifacts", "router artifact")
        return self._artifacts

    def encoders(self) -> dict[str, Traversable | Path]:
        """Encoder artifact folders by name."""
        if self._encoders is None:
            self._encoders = self._locators("register_encoders", "encoder")
        return self._encoders

    def _locators(self, hook: str, what: str) -> dict[str, Traversable | Path]:
        found: dict[str, Traversable | Path] = {}

        def add(plugin: str, name: str, locator: Traversable | Path) -> None:
            _claim(found, what, name, plugin)
            found[name] = locator

        self._collect(hook, add)
        return found

    def _collect(self, hook: str, add: Callable[..., None]) -> None:
        """Call each implementation of `hook` on its own, so one failing plugin is skipped alone."""
        for impl in getattr(self.manager.hook, hook).get_hookimpls():

            def register(*args: Any, _plugin: str = impl.plugin_name, **kwargs: Any) -> None:
                add(_plugin, *args, **kwargs)

            try:
                impl.function(register=register)
            except Exception as exc:  # isolate the plugin, keep the others' registrations
                self._fail(impl.plugin_name, _distribution_of(self.manager, impl.plugin), exc)

    def plugin_names(self) -> list[str]:
        """Names of every registered plugin, built-ins included."""
        return sorted(name for name, _ in self.manager.list_name_plugin())


def _claim(table: dict[str, Any], what: str, name: object, plugin: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise PluginError(f"Plugin {plugin!r} registered the {what} name {name!r}; names must match {NAME_PATTERN}.")
    if name in table:
        raise PluginError(f"Plugin {plugin!r} registered the {what} {name!r}, which is already registered.")


def _distribution_of(manager: pluggy.PluginManager, plugin: object) -> str:
    for candidate, dist in manager.list_plugin_distinfo():
        if candidate is plugin:
            return str(dist.project_name)
    return "routerkit-core" if getattr(plugin, "__name__", "").startswith("routerkit.") else "?"


_default: Plugins | None = None


def default_plugins() -> Plugins:
    """The process-wide plugins, loaded on first use (never at import)."""
    global _default
    if _default is None:
        plugins = Plugins()
        plugins.load_entry_points()
        _default = plugins
    return _default


def set_default_plugins(plugins: Plugins | None) -> Plugins | None:
    """Replace the process-wide plugins (tests use this); return the previous ones.

    Passing None makes the next access load the installed plugins again.
    """
    global _default
    previous, _default = _default, plugins
    return previous


def notify_decision(decision: Decision) -> None:
    """Call `on_route_decision` observers, but only when some plugin implements the hook."""
    plugins = _default
    if plugins is None:
        return
    caller = plugins.manager.hook.on_route_decision
    if caller.get_hookimpls():
        caller(decision=decision)
