"""The `resolve_client` hook: DSPy LMs become routerkit `ModelClient`s, and DSPy stays unimported otherwise."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable

import dspy
import dspy_routerkit
import pytest
from dspy import lm15
from dspy.utils import DummyLM
from dspy_routerkit import LMClient
from dspy_routerkit._plugin import is_dspy_lm, resolve_client
from routerkit.clients import Completion, ModelClient, Usage
from routerkit.clients import resolve_client as resolve
from routerkit.errors import ConfigError
from routerkit.plugins import Plugins

MakeLM = Callable[..., tuple[dspy.LM, object]]
HELLO = [{"role": "user", "content": "Hello there"}]


def test_the_installed_plugin_wraps_dspy_lms(plugins: Plugins) -> None:
    lm = DummyLM({"": {"answer": "hi"}})

    client = resolve(lm, plugins=plugins)

    assert isinstance(client, LMClient) and isinstance(client, ModelClient)
    assert (client.lm, client.name) == (lm, "dummy")
    assert "dspy" in {info.name for info in plugins.loaded}


def test_the_hook_ignores_everything_else(plugins: Plugins) -> None:
    class BaseLM:  # same name as DSPy's, another module
        model = "impostor"

    assert resolve_client(model=BaseLM()) is None
    assert resolve_client(model="openai/gpt-4o") is None
    assert not is_dspy_lm(dspy.Predict("q -> a")) and is_dspy_lm(dspy.LM("openai/gpt-4o-mini"))
    with pytest.raises(ConfigError, match=r"No installed integration can call a builtins\.str"):
        resolve("openai/gpt-4o", plugins=plugins)


def test_complete_returns_text_usage_and_the_raw_response(make_recording_lm: MakeLM) -> None:
    lm, engine = make_recording_lm("fake/model", "an answer")
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "What is 2 + 2?"},
    ]

    completion = LMClient(lm).complete(messages, max_tokens=20, temperature=0.0)

    assert isinstance(completion, Completion) and "an answer" in completion.text
    assert (completion.model, completion.usage) == ("fake/model", Usage(input_tokens=11, output_tokens=7))
    assert isinstance(completion.raw, lm15.Response)
    request = engine.requests[0]  # type: ignore[attr-defined]
    assert request.system == "Be brief."
    assert [(m.role, m.text) for m in request.messages] == [
        ("user", "Hi"),
        ("assistant", "Hello!"),
        ("user", "What is 2 + 2?"),
    ]
    assert (request.config.max_tokens, request.config.temperature) == (20, 0.0)
    assert len(lm.history) == 1  # called through the LM, so its history (and cache, retries) apply


def test_async_and_streaming_calls(make_recording_lm: MakeLM) -> None:
    lm, engine = make_recording_lm("fake/model", "an answer")
    client = LMClient(lm)

    async def run() -> tuple[Completion, list[str]]:
        return await client.acomplete(HELLO), [chunk async for chunk in client.astream(HELLO)]

    completion, async_chunks = asyncio.run(run())
    chunks = list(client.stream(HELLO))

    assert "an answer" in completion.text
    assert chunks == async_chunks == [completion.text]
    assert len(engine.requests) == 3  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("messages", "options", "message"),
    [
        pytest.param([], {}, r"`messages` must be a non-empty list", id="empty"),
        pytest.param("Hello", {}, r"`messages` must be a non-empty list", id="bare-string"),
        pytest.param([{"role": "system", "content": "x"}], {}, r"only system turns", id="system-only"),
        pytest.param([{"role": "tool", "content": "x"}], {}, r"roles must be .* got 'tool'", id="tool-role"),
        pytest.param([{"role": "user", "content": ""}], {}, r"non-empty string 'content'", id="empty-content"),
        pytest.param([{"role": "user", "content": ["x"]}], {}, r"non-empty string 'content'", id="list-content"),
        pytest.param(
            HELLO, {"max_tokenz": 5}, r"Unknown option\(s\) \['max_tokenz'\] .* Known: \['max_tokens'", id="typo"
        ),
        pytest.param(HELLO, {"temperature": 9.0}, r"Invalid option\(s\) .*temperature must be in", id="range"),
    ],
)
def test_bad_messages_and_options_are_refused_before_the_call(
    make_recording_lm: MakeLM, messages: object, options: dict[str, object], message: str
) -> None:
    lm, engine = make_recording_lm("fake/model", "an answer")

    with pytest.raises(ConfigError, match=message):
        LMClient(lm).complete(messages, **options)  # type: ignore[arg-type]
    assert engine.requests == []  # type: ignore[attr-defined]


def test_only_dspy_lms_can_be_wrapped() -> None:
    with pytest.raises(ConfigError, match=r"`LMClient` wraps a `dspy.BaseLM`, got str"):
        LMClient("openai/gpt-4o")  # type: ignore[arg-type]


def test_routing_with_plugins_loaded_imports_no_dspy() -> None:
    code = (
        "import sys, routerkit\n"
        "from routerkit.plugins import default_plugins\n"
        "router = routerkit.load('length', strong='big', weak='small', threshold=0.5)\n"
        "assert router.route('hello there').model == 'small'\n"
        "assert 'dspy' in {p.name for p in default_plugins().loaded}, default_plugins().loaded\n"
        "assert 'dspy_routerkit._plugin' in sys.modules\n"
        "print(','.join(m for m in ('dspy', 'litellm', 'dspy_routerkit._module') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "", f"routing with the dspy plugin loaded imported: {out.stdout.strip()}"


def test_the_public_names_are_unique_documented_and_resolve() -> None:
    # Their order is ruff's (RUF022), checked by `make lint`.
    names = [n for n in dspy_routerkit.__all__ if n != "__version__"]
    assert len(set(dspy_routerkit.__all__)) == len(dspy_routerkit.__all__)
    assert all(getattr(dspy_routerkit, n).__doc__ for n in names)
    assert set(dir(dspy_routerkit)) == set(dspy_routerkit.__all__)
    with pytest.raises(AttributeError, match=r"no attribute 'Missing'"):
        dspy_routerkit.Missing  # noqa: B018
