"""langchain-tests' standard unit tests for chat models, run on `ChatRouterkit`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import routerkit
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable
from langchain_routerkit import ChatRouterkit
from langchain_tests.unit_tests import ChatModelUnitTests


class _ToolCapableFake(FakeMessagesListChatModel):
    """langchain-core's fakes have no `bind_tools`; routes need one for the tool and structured-output tests."""

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self.bind(tools=list(tools), tool_choice=tool_choice, **kwargs)


class TestChatRouterkitStandard(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatRouterkit]:
        return ChatRouterkit

    @property
    def chat_model_params(self) -> dict[str, Any]:
        routes = {name: _ToolCapableFake(responses=[AIMessage(name)]) for name in ("big", "small")}
        return {"router": routerkit.load("length", strong="big", weak="small"), "routes": routes}

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        # The standard set also has `timeout`, `max_retries` and `api_key`: settings of the client that
        # calls a provider, which each route has and the router does not. ChatRouterkit refuses them
        # (test_chat_model.py::test_bad_construction_is_a_config_error[client-setting]) rather than
        # dropping them silently; the sampling parameters it forwards to the routes stay.
        return {"temperature": 0, "max_tokens": 100, "stop": []}
