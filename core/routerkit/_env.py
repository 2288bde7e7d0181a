"""The one place that reads `ROUTERKIT_*` environment variables (listed in docs/environment-variables.md)."""

from __future__ import annotations

import os
from pathlib import Path

from routerkit.errors import ConfigError

DEFAULT_DATA_DIR = Path("..") / "shared" / "data"


def data_dir() -> Path:
    """Return the benchmark/outcome data directory, resolved at call time.

    `ROUTERKIT_DATA_DIR` wins; otherwise `../shared/data` relative to the current directory.

    Raises:
        ConfigError: if the directory does not exist.
    """
    raw = os.environ.get("ROUTERKIT_DATA_DIR")
    path = Path(raw) if raw else DEFAULT_DATA_DIR
    if not path.is_dir():
        source = f"`ROUTERKIT_DATA_DIR`={raw!r}" if raw else f"the default {str(DEFAULT_DATA_DIR)!r}"
        raise ConfigError(
            f"Data directory {str(path.resolve())!r} (from {source}) does not exist. "
            "Set `ROUTERKIT_DATA_DIR` to the folder holding the outcome datasets."
        )
    return path


def cache_dir() -> Path:
    """Return the cache directory for embeddings and scores (`ROUTERKIT_CACHE_DIR`, else ~/.cache/routerkit)."""
    raw = os.environ.get("ROUTERKIT_CACHE_DIR")
    return Path(raw) if raw else Path.home() / ".cache" / "routerkit"


def _name_list(variable: str) -> frozenset[str] | None:
    raw = os.environ.get(variable)
    if raw is None:
        return None
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def plugins_allowed() -> frozenset[str] | None:
    """Distribution names from `ROUTERKIT_LOAD_PLUGINS` (None: load every installed plugin)."""
    return _name_list("ROUTERKIT_LOAD_PLUGINS")


def plugins_blocked() -> frozenset[str]:
    """Plugin or distribution names from `ROUTERKIT_DISABLE_PLUGINS`."""
    return _name_list("ROUTERKIT_DISABLE_PLUGINS") or frozenset()


def named_variable(variable: str) -> str | None:
    """The value of a variable a configuration file names (e.g. the server's `api_key_env`), or None."""
    value = os.environ.get(variable)
    return value if value and value.strip() else None
