"""Tool calling: routed once per call, delegated whole, parsed by the route that answered."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, ToolCallBlock
from llama_index.core.callbacks import CallbackManager
from llama_index.core.llms import LLM, MockFunctionCallingLLM, MockLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.tools import FunctionTool
from llama_index.llms.routerkit import RouterkitLLM, RoutingDecisionEvent
from pydantic import BaseModel
from routerkit.errors import ConfigError, UnknownNameError
from routerkit.routers import Router

LONG = "Explain, step by step and with worked examples, how a B-tree stays balanced. " * 8


def add(a: int = 2, b: int = 3) -> int:
    """Add two numbers."""
    return a + b


TOOL = FunctionTool.from_defaults(fn=add)


class NamedToolCalls(MockFunctionCallingLLM):
    """A function-calling mock whose tool calls can only be parsed by itself (a provider-specific format)."""

    label: str = "?"

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = False, **kwargs: Any
    ) -> list[ToolSelection]:
        return [
            call.model_copy(update={"tool_id": self.label}) for call in super().get_tool_calls_from_response(response)
        ]


def _router_llm(router: Router, **kwargs: Any) -> RouterkitLLM:
    routes: dict[str, LLM] = {"big": NamedToolCalls(label="big"), "small": NamedToolCalls(label="small")}
    return RouterkitLLM(routes=routes, router=router, **kwargs)


async def _last(chunks: Any) -> Any:
    return [chunk async for chunk in chunks][-1]


@pytest.mark.parametrize(
    "method", ["chat_with_tools", "achat_with_tools", "stream_chat_with_tools", "astream_chat_with_tools"]
)
@pytest.mark.parametrize(("text", "route"), [("add 2 and 3", "small"), (LONG, "big")], ids=["short", "long"])
def test_tool_calls_are_routed_tagged_and_parsed_by_their_route(
    length_router: Router, events: Any, method: str, text: str, route: str
) -> None:
    llm = _router_llm(length_router)
    call = getattr(llm, method)([TOOL], user_msg=text)
    if method == "achat_with_tools":
        response = asyncio.run(call)
    elif method == "astream_chat_with_tools":
        response = asyncio.run(_last(asyncio.run(call)))
    else:
        response = list(call)[-1] if method.startswith("stream") else call
    assert response.additional_kwargs["route"] == route
    assert [block.tool_name for block in response.message.blocks if isinstance(block, ToolCallBlock)] == ["add"]
    (selection,) = llm.get_tool_calls_from_response(response)
    assert (selection.tool_name, selection.tool_kwargs, selection.tool_id) == ("add", {"a": 2, "b": 3}, route)
    assert [e.route for e in events.events if isinstance(e, RoutingDecisionEvent)] == [route]


def test_tools_are_routed_on_the_last_user_message_of_the_history(length_router: Router) -> None:
    llm = _router_llm(length_router)
    history = [ChatMessage(role="user", content=LONG), ChatMessage(role="assistant", content="Sure.")]
    response = llm.chat_with_tools([TOOL], user_msg="and add 2 and 3", chat_history=history)
    assert response.additional_kwargs["route"] == "small"
    assert llm.chat_with_tools([TOOL], chat_history=history).additional_kwargs["route"] == "big"


def test_predict_and_call_runs_the_routed_tool_call(length_router: Router) -> None:
    llm = _router_llm(length_router)
    assert str(llm.predict_and_call([TOOL], user_msg="add 2 and 3")) == "5"
    assert str(asyncio.run(llm.apredict_and_call([TOOL], user_msg=LONG))) == "5"


def test_structured_output_through_the_router(length_router: Router) -> None:
    class Sum(BaseModel):
        a: int = 2
        b: int = 3

    structured = _router_llm(length_router).as_structured_llm(Sum)
    response = structured.chat([ChatMessage(role="user", content="add 2 and 3")])
    assert response.raw == Sum(a=2, b=3)


# Building any `FunctionAgent` lists its workflow steps with `inspect.getmembers`, which touches
# pydantic's deprecated `__fields__`, `__fields_set__`, `model_fields` and `model_computed_fields` on
# the agent instance (llama-index-core 0.14.25 with pydantic 2.14): LlamaIndex's warnings, not ours.
@pytest.mark.filterwarnings(
    "ignore:The `__fields(_set)?__` attribute is deprecated:pydantic.warnings.PydanticDeprecatedSince20"
)
@pytest.mark.filterwarnings(
    "ignore:Accessing the 'model_(computed_)?fields' attribute:pydantic.warnings.PydanticDeprecatedSince211"
)
def test_a_function_agent_runs_on_the_router(length_router: Router, legacy: Any) -> None:
    llm = _router_llm(length_router, callback_manager=CallbackManager([legacy]))
    assert llm.metadata.is_function_calling_model
    agent = FunctionAgent(tools=[TOOL], llm=llm)

    async def run() -> Any:
        return await agent.run(user_msg="What is 2 + 3?")

    result = asyncio.run(run())
    assert str(result) == "Tool calls complete."  # the mock's answer once it sees the tool's result
    assert result.tool_calls[0].tool_output.raw_output == 5
    # Two model calls (tool call, then the answer), one LLM event each, none doubled.
    assert (legacy.counts["llm_start"], legacy.counts["llm_end"]) == (2, 2)


def test_prepared_tool_arguments_pin_the_route_for_chat(length_router: Router) -> None:
    llm = _router_llm(length_router)
    chat_kwargs = llm._prepare_chat_with_tools([TOOL], user_msg=LONG)
    assert chat_kwargs["routerkit_route"] == "big"
    assert [m.content for m in chat_kwargs["messages"]] == [LONG]
    response = llm.chat(**chat_kwargs)
    assert response.additional_kwargs["route"] == "big"
    assert response.additional_kwargs["routerkit_decision"] is None  # forced: no second decision


def test_a_response_without_route_tag_cannot_be_parsed(length_router: Router) -> None:
    llm = _router_llm(length_router)
    foreign = MockFunctionCallingLLM().chat_with_tools([TOOL], user_msg="add 2 and 3")
    with pytest.raises(ConfigError, match=r"carries no `route` in `additional_kwargs`"):
        llm.get_tool_calls_from_response(foreign)
    with pytest.raises(ConfigError, match=r"carries no `route`"):
        llm.get_tool_calls_from_response(foreign, error_on_no_tool_call=False)
    # The placeholder FunctionAgent builds when a stream yields nothing has no tool calls to lose.
    assert llm.get_tool_calls_from_response(ChatResponse(message=ChatMessage()), error_on_no_tool_call=False) == []


def test_a_response_tagged_with_an_unknown_route_is_refused(length_router: Router) -> None:
    llm = _router_llm(length_router)
    response = llm.chat_with_tools([TOOL], user_msg="add")
    response.additional_kwargs["route"] = "huge"
    with pytest.raises(UnknownNameError, match=r"Unknown route 'huge'\. Available: 'big', 'small'"):
        llm.get_tool_calls_from_response(response)


def test_a_route_that_cannot_call_tools_is_reported(length_router: Router) -> None:
    llm = RouterkitLLM(routes={"big": MockFunctionCallingLLM(), "small": MockLLM()}, router=length_router)
    assert not llm.metadata.is_function_calling_model
    assert llm.chat_with_tools([TOOL], user_msg=LONG).additional_kwargs["route"] == "big"
    with pytest.raises(ConfigError, match=r"Route 'small' \(MockLLM\) is not a `FunctionCallingLLM`"):
        llm.chat_with_tools([TOOL], user_msg="add 2 and 3")


def test_a_tools_call_without_any_message_is_an_error(length_router: Router) -> None:
    with pytest.raises(ConfigError, match=r"The message list is empty"):
        _router_llm(length_router).chat_with_tools([TOOL])
