"""Server configuration errors, `routerkit serve`, the `mf` router behind the server, import hygiene."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import routerkit
from routerkit.cli import main
from routerkit.errors import ConfigError, MissingDependencyError
from routerkit.server import ServerConfig, create_app, load_config
from routerkit.server.config import parse_config

MINIMAL_YAML = """
models:
  strong: {base_url: "http://127.0.0.1:9001/v1", model: gpt-4o}
  weak: {base_url: "http://127.0.0.1:9002/v1", model: mixtral}
routers:
  length:
    load: length
    options: {strong: big, weak: small}
    models: {big: strong, small: weak}
"""


def _raw(**routers: Any) -> dict[str, Any]:
    return {
        "models": {
            "strong": {"base_url": "http://127.0.0.1:9001/v1", "model": "gpt-4o"},
            "weak": {"base_url": "http://127.0.0.1:9002/v1", "model": "mixtral"},
        },
        "routers": routers
        or {"length": {"load": "length", "options": {"strong": "big", "weak": "small"}, "models": dict(_MAPPING)}},
    }


_MAPPING = {"big": "strong", "small": "weak"}


def test_load_config_from_yaml_and_json(tmp_path: Path) -> None:
    yaml_file = tmp_path / "routes.yaml"
    yaml_file.write_text(MINIMAL_YAML)
    config = load_config(yaml_file)
    assert isinstance(config, ServerConfig)
    assert config.models["strong"].max_retries == 1 and config.limits.max_body_bytes == 1_048_576
    json_file = tmp_path / "routes.json"
    json_file.write_text(json.dumps(_raw()))
    assert load_config(json_file) == config


@pytest.mark.parametrize(
    ("edit", "fragments"),
    [
        (lambda c: c["models"]["strong"].update(base_ur="x"), ["`models.strong.base_ur`", "base_url", "timeout_s"]),
        (lambda c: c.update(rotues={}), ["`rotues`", "routes"]),
        (lambda c: c["routers"]["length"].update(treshold=0.3), ["`routers.length.treshold`", "threshold"]),
        (lambda c: c["routers"]["length"]["models"].update(big="strongg"), ["'strongg'", "'strong', 'weak'"]),
        (lambda c: c.update(routes={"auto": {"router": "mff"}}), ["`routes.auto.router`", "'mff'", "'length'"]),
        (lambda c: c["routers"]["length"].update(threshold=1.5), ["`routers.length.threshold`", "1"]),
        (lambda c: c["models"]["weak"].update(base_url="127.0.0.1:9002"), ["`models.weak.base_url`"]),
        (lambda c: c["routers"].update({"My-Router": c["routers"]["length"]}), ["My-Router"]),
        (lambda c: c.update(routes={"length": {"router": "length"}}), ["clashes"]),
    ],
    ids=[
        "misspelt-model-key",
        "misspelt-top-key",
        "misspelt-router-key",
        "unknown-model-reference",
        "unknown-router-reference",
        "threshold-out-of-range",
        "url-without-scheme",
        "router-name-with-dash",
        "route-shadows-router",
    ],
)
def test_config_errors_name_the_key(edit: Any, fragments: list[str]) -> None:
    raw = _raw()
    edit(raw)
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_router_candidate_not_mapped_fails_at_startup() -> None:
    config = parse_config(_raw(length={"load": "length", "options": {"strong": "big", "weak": "small"},
                                       "models": {"big": "strong"}}))  # fmt: skip
    with pytest.raises(ConfigError, match=r"missing: 'small'"):
        create_app(config)


def test_mapping_a_name_that_is_not_a_candidate_fails() -> None:
    config = parse_config(_raw(length={"load": "length", "models": {**_MAPPING, "gpt-4-1106-preview": "strong"}}))
    with pytest.raises(ConfigError, match=r"not candidates: 'big', 'small'"):
        create_app(config)


def test_unknown_router_and_bad_options_fail_at_startup() -> None:
    with pytest.raises(routerkit.UnknownNameError, match="'length'"):
        create_app(parse_config(_raw(x={"load": "lenght", "models": _MAPPING})))
    with pytest.raises(ConfigError, match=r"routers\.x\.options"):
        create_app(parse_config(_raw(x={"load": "length", "options": {"strnog": "big"}, "models": _MAPPING})))


def test_unset_key_variables_fail_at_startup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_KEYS", raising=False)
    raw = {**_raw(), "auth": {"api_keys_env": "NO_SUCH_KEYS"}}
    with pytest.raises(ConfigError, match="'NO_SUCH_KEYS'"):
        create_app(parse_config(raw))
    raw = _raw()
    raw["models"]["strong"]["api_key_env"] = "NO_SUCH_KEYS"
    with pytest.raises(ConfigError, match=r"`models.strong.api_key_env`"):
        create_app(parse_config(raw))


def test_unreadable_or_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("- a list")
    with pytest.raises(ConfigError, match="mapping at the top"):
        load_config(bad)


@pytest.fixture(autouse=True)
def _restore_server_logger() -> Iterator[None]:
    """`routerkit serve` installs a stderr handler on the server's logger; later tests need it as it was."""
    logger = logging.getLogger("routerkit.server")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield
    logger.handlers[:], logger.propagate, logger.level = saved


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "example.com", "::"])
def test_serve_refuses_a_public_host_without_keys(tmp_path: Path, host: str, capsys: Any) -> None:
    config = tmp_path / "routes.yaml"
    config.write_text(MINIMAL_YAML)
    assert main(["serve", "--config", str(config), "--host", host]) == 2
    err = capsys.readouterr().err
    assert err.startswith("routerkit: error: Refusing to serve") and "auth.api_keys_env" in err


def test_serve_runs_uvicorn_on_loopback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    config = tmp_path / "routes.yaml"
    config.write_text(MINIMAL_YAML)
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    assert main(["serve", "--config", str(config), "--port", "7070"]) == 0
    assert calls[0]["host"] == "127.0.0.1" and calls[0]["port"] == 7070


def test_serve_allows_a_public_host_with_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    config = tmp_path / "routes.yaml"
    config.write_text(MINIMAL_YAML + "auth: {api_keys_env: TEST_SERVE_KEYS}\n")
    monkeypatch.setenv("TEST_SERVE_KEYS", "k1")
    calls: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw["host"]))
    assert main(["serve", "--config", str(config), "--host", "0.0.0.0"]) == 0
    assert calls == ["0.0.0.0"]


def test_serve_without_the_extra_names_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn now raises ImportError
    config = tmp_path / "routes.yaml"
    config.write_text(MINIMAL_YAML)
    assert main(["serve", "--config", str(config)]) == 2
    assert 'pip install "routerkit[server]"' in capsys.readouterr().err
    with pytest.raises(ImportError):  # and the error is an ImportError for callers
        raise MissingDependencyError.for_extra("`routerkit serve`", "server", "uvicorn")


def test_mf_router_behind_the_server(start: Any) -> None:
    def use_mf(config: dict[str, Any]) -> None:
        config["routers"] = {
            "mf": {"load": "mf", "models": {"gpt-4-1106-preview": "strong", "mixtral-8x7b-instruct-v0.1": "weak"}}
        }
        config["routes"] = {"auto": {"router": "mf", "threshold": 0.0}}

    stack = start(edit=use_mf)
    client = stack.client()
    raw = client.chat.completions.with_raw_response.create(
        model="router-mf-0.5", messages=[{"role": "user", "content": "Prove that sqrt(2) is irrational."}]
    )
    assert raw.headers["x-routerkit-router"] == "mf"
    assert 0.0 <= float(raw.headers["x-routerkit-score"]) <= 1.0
    assert raw.headers["x-routerkit-model"] in {"strong", "weak"}
    always_strong = client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    assert always_strong.model == "gpt-4o"
    ids = [m.id for m in client.models.list()]
    assert ids[:2] == ["auto", "mf"] and ids[2].startswith("router-mf-0.")  # the artifact's default threshold


def test_importing_routerkit_server_loads_no_web_framework() -> None:
    code = (
        "import sys, routerkit, routerkit.server; from routerkit.server import ServerConfig; "
        "print(','.join(m for m in ('fastapi', 'starlette', 'httpx', 'uvicorn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
