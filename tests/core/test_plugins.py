"""Plugin discovery: entry points, isolation of broken plugins, env allow/block, observers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import routerkit
from routerkit.errors import RouterkitWarning
from routerkit.plugins.manager import Plugins, set_default_plugins
from routerkit.routers import LengthRouter


def _fake_distribution(root: Path, name: str, module_source: str) -> None:
    """Write an installed-looking distribution (dist-info + module) that declares a routerkit plugin."""
    (root / f"{name}.py").write_text(textwrap.dedent(module_source), encoding="utf-8")
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[routerkit]\n{name} = {name}\n", encoding="utf-8")


GOOD = """
    from routerkit import hookimpl
    from routerkit.routers import LengthRouter

    @hookimpl
    def register_routers(register):
        register("short_length", lambda **o: LengthRouter(scale=10.0, **o), needs_artifact=False)
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def _load() -> Plugins:
    plugins = Plugins()
    plugins.load_entry_points()
    return plugins


def test_builtins_and_shipped_models_are_registered(plugins: Plugins) -> None:
    assert {"mf", "random", "length"} <= set(plugins.kinds())
    assert "models" in {p.name for p in plugins.loaded}
    assert {p.distribution for p in plugins.loaded} >= {"routerkit-models"}


def test_third_party_plugin_is_discovered(site: Path) -> None:
    _fake_distribution(site, "rk_good", GOOD)
    plugins = _load()
    assert "short_length" in plugins.kinds()
    assert ("rk_good", "0.1") in {(p.distribution, p.version) for p in plugins.loaded}


def test_broken_plugin_is_reported_and_skipped(site: Path) -> None:
    _fake_distribution(site, "rk_good", GOOD)
    _fake_distribution(site, "rk_broken", "raise RuntimeError('boom at import')\n")
    with pytest.warns(RouterkitWarning, match=r"'rk_broken'.*skipped: RuntimeError: boom at import"):
        plugins = _load()
    assert [f.distribution for f in plugins.failures] == ["rk_broken"]
    assert "short_length" in plugins.kinds()  # the healthy plugin still works


def test_misspelt_hook_fails_validation_and_is_skipped(site: Path) -> None:
    _fake_distribution(
        site,
        "rk_typo",
        """
        from routerkit import hookimpl

        @hookimpl
        def register_ruoters(register):
            pass
    """,
    )
    with pytest.warns(RouterkitWarning, match="rk_typo"):
        plugins = _load()
    assert "register_ruoters" in plugins.failures[0].error
    assert "rk_typo" not in plugins.plugin_names()


def test_plugin_raising_while_registering_is_isolated(site: Path) -> None:
    _fake_distribution(
        site,
        "rk_raises",
        """
        from routerkit import hookimpl

        @hookimpl
        def register_routers(register):
            raise ValueError("cannot register")
    """,
    )
    with pytest.warns(RouterkitWarning, match="cannot register"):
        kinds = _load().kinds()
    assert {"mf", "random", "length"} <= set(kinds)


def test_bad_and_duplicate_names_are_refused(site: Path) -> None:
    _fake_distribution(
        site,
        "rk_dupe",
        """
        from routerkit import hookimpl

        @hookimpl
        def register_routers(register):
            register("length", lambda **o: None, needs_artifact=False)
    """,
    )
    with pytest.warns(RouterkitWarning, match="already registered"):
        _load().kinds()


@pytest.mark.parametrize(
    ("variable", "value", "expect_loaded"),
    [
        pytest.param("ROUTERKIT_LOAD_PLUGINS", "", False, id="allow-none"),
        pytest.param("ROUTERKIT_LOAD_PLUGINS", "rk_good", True, id="allow-it"),
        pytest.param("ROUTERKIT_DISABLE_PLUGINS", "rk_good", False, id="block-it"),
    ],
)
def test_environment_allows_and_blocks(
    site: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expect_loaded: bool
) -> None:
    _fake_distribution(site, "rk_good", GOOD)
    monkeypatch.setenv(variable, value)
    assert ("short_length" in _load().kinds()) is expect_loaded


def test_on_route_decision_observer_sees_each_decision(plugins: Plugins) -> None:
    seen: list[str] = []

    class Observer:
        @routerkit.hookimpl
        def on_route_decision(self, decision: routerkit.Decision) -> None:
            seen.append(decision.model)

    observer = Observer()
    plugins.register(observer)
    try:
        decisions = LengthRouter().route_batch(["a", "b" * 5000])
    finally:
        plugins.unregister(observer)
    assert seen == [d.model for d in decisions]


def test_plugins_command_lists_versions(plugins: Plugins, capsys: pytest.CaptureFixture[str]) -> None:
    from routerkit.cli import main

    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "routerkit-models" in out and "0.1.0" in out and "routerkit.plugins.builtin" in out


def test_plugins_command_fails_on_a_broken_plugin(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fake_distribution(site, "rk_broken", "raise RuntimeError('boom')\n")
    with pytest.warns(RouterkitWarning):
        broken = _load()
    previous = set_default_plugins(broken)
    try:
        from routerkit.cli import main

        assert main(["plugins"]) == 1
    finally:
        set_default_plugins(previous)
    assert "FAILED: RuntimeError: boom" in capsys.readouterr().out
