"""The `resolve_client` hook: LangChain chat models as routerkit `ModelClient`s; no LangChain import otherwise."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import langchain_routerkit
import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_routerkit import ChatModelClient
from langchain_routerkit._plugin import is_langchain_chat_model
from routerkit.clients import Completion, ModelClient, Usage, resolve_client
from routerkit.errors import ConfigError
from routerkit.plugins import Plugins

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi there"}]


def test_the_installed_plugin_wraps_langchain_chat_models(plugins: Plugins, fake: Any) -> None:
    client = resolve_client(fake(model_name="gpt-x", reply="hello world"))
    assert isinstance(client, ChatModelClient) and isinstance(client, ModelClient)
    assert client.name == "gpt-x"
    completion = client.complete(MESSAGES, temperature=0)
    assert completion == Completion(
        text="hello world", model="gpt-x", usage=Usage(input_tokens=7, output_tokens=3), raw=completion.raw
    )
    assert client.model.calls[0]["temperature"] == 0  # type: ignore[attr-defined]
    assert [m.type for m in client.model.calls[0]["messages"]] == ["system", "human"]  # type: ignore[attr-defined]


def test_the_client_is_async_and_streams(fake: Any) -> None:
    client = ChatModelClient(fake(reply="one two three"))
    assert list(client.stream(MESSAGES)) == ["one ", "two ", "three"]

    async def run() -> tuple[Completion, list[str]]:
        return await client.acomplete(MESSAGES), [c async for c in client.astream(MESSAGES)]

    completion, chunks = asyncio.run(run())
    assert completion.text == "one two three" and chunks == ["one ", "two ", "three"]


def test_models_without_usage_or_name(plugins: Plugins) -> None:
    client = resolve_client(FakeListChatModel(responses=["ok"]))
    assert client.name == "fake-list-chat-model"  # no model name: LangChain's `_llm_type`
    assert client.complete(MESSAGES).usage == Usage()
    assert ChatModelClient(FakeListChatModel(responses=["ok"]), name="mine").name == "mine"


def test_a_chat_router_is_a_client_too(plugins: Plugins, make_model: Any) -> None:
    client = resolve_client(make_model())
    assert client.name == "routerkit/length"
    assert client.complete(MESSAGES).text == "small answer"


def test_other_objects_are_not_ours(plugins: Plugins) -> None:
    assert plugins.manager.hook.resolve_client(model=object()) is None
    assert not is_langchain_chat_model("gpt-4o") and not is_langchain_chat_model(FakeListChatModel)
    with pytest.raises(ConfigError, match="No installed integration"):
        resolve_client(object())


@pytest.mark.parametrize(
    ("messages", "message"),
    [("hi", "non-empty list of chat messages"), ([], "non-empty list"), ([{"x": 1}], "Could not read the messages")],
    ids=["a-string", "empty", "malformed"],
)
def test_bad_messages_are_config_errors(messages: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ChatModelClient(FakeListChatModel(responses=["ok"])).complete(messages)


def test_only_chat_models_are_wrapped() -> None:
    with pytest.raises(ConfigError, match="got str"):
        ChatModelClient("gpt-4o")  # type: ignore[arg-type]


def test_loading_plugins_and_routing_does_not_import_langchain() -> None:
    code = (
        "import sys, routerkit\n"
        "from routerkit.plugins import default_plugins\n"
        "router = routerkit.load('length', strong='big', weak='small')\n"
        "assert router.route('hello there').model == 'small'\n"
        "plugins = default_plugins()\n"
        "assert 'langchain' in plugins.plugin_names(), plugins.plugin_names()\n"  # our plugin really loaded
        "assert plugins.manager.hook.resolve_client(model=object()) is None\n"
        "print(','.join(m for m in ('langchain_core', 'langchain_routerkit._chat_model') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"loading routerkit plugins imported: {out.stdout.strip()}"


def test_importing_the_package_does_not_import_langchain() -> None:
    code = "import sys, langchain_routerkit; print('langchain_core' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_public_names() -> None:
    assert langchain_routerkit.__all__ == sorted(langchain_routerkit.__all__)
    assert set(dir(langchain_routerkit)) == set(langchain_routerkit.__all__)
    for name in langchain_routerkit.__all__:
        value = getattr(langchain_routerkit, name)
        assert name == "__version__" or value.__doc__, name
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = langchain_routerkit.Nope
