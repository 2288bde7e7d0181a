"""The plugin system: hookspecs, the plugin manager, and the built-in plugin."""

from routerkit.plugins.hookspecs import hookimpl, hookspec
from routerkit.plugins.manager import (
    PluginFailure,
    PluginInfo,
    Plugins,
    RouterKind,
    default_plugins,
    get_plugin_manager,
    set_default_plugins,
)

__all__ = [
    "PluginFailure",
    "PluginInfo",
    "Plugins",
    "RouterKind",
    "default_plugins",
    "get_plugin_manager",
    "hookimpl",
    "hookspec",
    "set_default_plugins",
]
