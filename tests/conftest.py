"""Shared fixtures: no network, fresh plugin registries, and the data directory."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from routerkit.plugins.manager import Plugins, set_default_plugins

ON_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse every connection that is not to this machine: no test may reach the network."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else str(address)
        if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1")):
            raise RuntimeError(f"Test tried to reach the network: {address!r}")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Embedding/score caches go to a per-session temp folder, never to the user's home."""
    monkeypatch.setenv("ROUTERKIT_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture
def plugins() -> Iterator[Plugins]:
    """Installed plugins loaded into a fresh registry, made the process default for the test."""
    fresh = Plugins()
    fresh.load_entry_points()
    previous = set_default_plugins(fresh)
    yield fresh
    set_default_plugins(previous)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The benchmark data; a missing directory skips locally and fails on CI."""
    path = Path(os.environ.get("ROUTERKIT_DATA_DIR", "../shared/data"))
    if not (path / "routellm").is_dir():
        if ON_CI:
            pytest.fail(f"CI=true but the data directory {str(path)!r} is missing")
        pytest.skip(f"data directory {str(path)!r} not found (set ROUTERKIT_DATA_DIR)")
    return path
