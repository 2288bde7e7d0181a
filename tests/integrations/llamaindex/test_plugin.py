"""The `resolve_client` hook: LlamaIndex LLMs become `ModelClient`s; routing alone never imports LlamaIndex."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse
from llama_index.core.callbacks import CallbackManager
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockFunctionCallingLLM, MockLLM
from llama_index.llms.routerkit import LlamaIndexClient, RouterkitLLM
from routerkit.clients import Completion, ModelClient, Usage, resolve_client
from routerkit.errors import ConfigError
from routerkit.plugins import Plugins
from routerkit.routers import Router

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there"}]


class ReportsUsage(MockFunctionCallingLLM):
    """Answers like an OpenAI-backed LlamaIndex LLM: token counts in `additional_kwargs`."""

    def chat(self, messages: Any, **kwargs: Any) -> ChatResponse:
        response = super().chat(messages, **kwargs)
        response.additional_kwargs.update(prompt_tokens=7, completion_tokens=2, total_tokens=9)
        return response


async def _astream(client: ModelClient) -> list[str]:
    return [chunk async for chunk in client.astream(MESSAGES)]


def test_the_installed_plugin_wraps_llama_index_llms(plugins: Plugins, legacy: Any) -> None:
    assert "llamaindex" in {info.name for info in plugins.loaded}
    llm = MockFunctionCallingLLM(callback_manager=CallbackManager([legacy]))
    client = resolve_client(llm)
    assert isinstance(client, LlamaIndexClient) and isinstance(client, ModelClient)
    assert client.name == "MockFunctionCallingLLM"  # its metadata's model name is "unknown"
    completion = client.complete(MESSAGES)
    assert (completion.text, completion.model, completion.usage) == ("hello there", client.name, Usage())
    assert isinstance(completion.raw, ChatResponse)
    assert asyncio.run(client.acomplete(MESSAGES)).text == "hello there"
    assert list(client.stream(MESSAGES)) == ["hello there"]
    assert asyncio.run(_astream(client)) == ["hello there"]
    assert legacy.counts["llm_start"] >= 4  # the LLM's own callbacks fired on every call


def test_a_router_llm_is_a_client_too(plugins: Plugins, length_router: Router) -> None:
    router_llm = RouterkitLLM(
        routes={"big": MockLLM(max_tokens=3), "small": MockLLM(max_tokens=1)}, router=length_router
    )
    client = resolve_client(router_llm)
    assert client.name == "routerkit/length"
    assert client.complete(MESSAGES).text == "text"
    assert client.complete([{"role": "user", "content": "x" * 600}]).text == "text text text"


def test_usage_is_read_from_the_response(plugins: Plugins) -> None:
    completion = resolve_client(ReportsUsage(), plugins=plugins).complete(MESSAGES)
    assert completion == Completion(
        text="hello there",
        model="MockFunctionCallingLLM",
        usage=Usage(input_tokens=7, output_tokens=2),
        raw=completion.raw,
    )


def test_a_name_can_be_given() -> None:
    assert LlamaIndexClient(MockLLM(), name="my-model").name == "my-model"
    assert repr(LlamaIndexClient(MockLLM(), name="my-model")) == "<LlamaIndexClient 'my-model' (MockLLM)>"


def test_other_objects_are_left_to_other_plugins(plugins: Plugins) -> None:
    from llama_index.llms.routerkit import _plugin

    assert _plugin.resolve_client(model=object()) is None
    assert _plugin.resolve_client(model="gpt-4o") is None
    assert _plugin.resolve_client(model=MockEmbedding(embed_dim=4)) is None  # LlamaIndex, but not an LLM
    with pytest.raises(ConfigError, match=r"No installed integration can call a builtins\.object"):
        resolve_client(object())


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([], r"`messages` must be a non-empty list"),
        ("hello", r"`messages` must be a non-empty list"),
        ([{"role": "wizard", "content": "hi"}], r"Each message needs a `role` among \['system', 'developer', 'user'"),
        ([["user", "hi"]], r"Each message needs a `role`"),
    ],
    ids=["empty", "string", "unknown-role", "not-a-mapping"],
)
def test_bad_messages_are_config_errors(messages: Any, error: str) -> None:
    client = LlamaIndexClient(MockLLM())
    with pytest.raises(ConfigError, match=error):
        client.complete(messages)


def test_only_llama_index_llms_can_be_wrapped() -> None:
    with pytest.raises(ConfigError, match=r"`LlamaIndexClient` wraps a LlamaIndex `LLM`, got ChatMessage"):
        LlamaIndexClient(ChatMessage(role="user", content="hi"))  # type: ignore[arg-type]


def test_loading_plugins_and_routing_does_not_import_llama_index() -> None:
    code = """
import json, sys
import routerkit
from routerkit.clients import resolve_client
from routerkit.plugins.manager import default_plugins

decision = routerkit.load("length", strong="big", weak="small").route("hello there")
try:
    resolve_client(object())  # asks every plugin's hook, ours included
except routerkit.ConfigError:
    pass
print(json.dumps({
    "plugins": [info.name for info in default_plugins().loaded],
    "model": decision.model,
    "modules": sorted(m for m in sys.modules if m.startswith("llama_index")),
}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert "llamaindex" in result["plugins"] and result["model"] == "small"
    # Only the PEP 420 namespace packages our plugin module lives in, the package and the plugin module.
    assert result["modules"] == [
        "llama_index",
        "llama_index.llms",
        "llama_index.llms.routerkit",
        "llama_index.llms.routerkit._plugin",
    ]
