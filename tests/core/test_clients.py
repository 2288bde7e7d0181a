"""`resolve_client`: clients pass through, plugins wrap their framework's models, the rest is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import routerkit
from routerkit.clients import ChatMessages, Completion, ModelClient, resolve_client
from routerkit.errors import ConfigError, PluginError
from routerkit.plugins import Plugins


class EchoClient:
    """A minimal client: answers with the last message's content."""

    def __init__(self, name: str = "echo") -> None:
        self.name = name

    def complete(self, messages: ChatMessages, **options: object) -> Completion:
        return Completion(text=messages[-1]["content"], model=self.name)

    async def acomplete(self, messages: ChatMessages, **options: object) -> Completion:
        return self.complete(messages)

    def stream(self, messages: ChatMessages, **options: object) -> Iterator[str]:
        yield from messages[-1]["content"].split()

    async def astream(self, messages: ChatMessages, **options: object) -> AsyncIterator[str]:
        for chunk in self.stream(messages):
            yield chunk


class FrameworkModel:
    """Stands in for a framework's model object that only a plugin knows how to call."""

    model_name = "framework-model"


class WrapsFrameworkModels:
    @routerkit.hookimpl
    def resolve_client(self, model: object) -> ModelClient | None:
        return EchoClient(model.model_name) if isinstance(model, FrameworkModel) else None


def test_a_client_is_returned_as_is() -> None:
    client = EchoClient()
    assert isinstance(client, ModelClient)
    assert resolve_client(client, plugins=Plugins()) is client


def test_a_plugin_wraps_its_frameworks_models() -> None:
    plugins = Plugins()
    plugins.register(WrapsFrameworkModels())
    client = resolve_client(FrameworkModel(), plugins=plugins)
    assert client.name == "framework-model"
    assert client.complete([{"role": "user", "content": "hello there"}]).text == "hello there"
    assert list(client.stream([{"role": "user", "content": "hello there"}])) == ["hello", "there"]


def test_an_unknown_model_type_names_the_type_and_the_integrations() -> None:
    with pytest.raises(
        ConfigError, match=r"No installed integration can call a [\w.]*test_clients\.FrameworkModel \(plugins: "
    ):
        resolve_client(FrameworkModel(), plugins=Plugins())
    with pytest.raises(ConfigError, match=r"langchain-routerkit, llama-index-llms-routerkit, dspy-routerkit"):
        resolve_client(object(), plugins=Plugins())


def test_a_plugin_answering_with_a_non_client_is_an_error() -> None:
    class Broken:
        @routerkit.hookimpl
        def resolve_client(self, model: object) -> object:
            return "not a client"

    plugins = Plugins()
    plugins.register(Broken())
    with pytest.raises(PluginError, match=r"returned 'not a client', which is not a ModelClient"):
        resolve_client(FrameworkModel(), plugins=plugins)
