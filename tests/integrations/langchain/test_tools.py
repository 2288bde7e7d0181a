"""`bind_tools` and `with_structured_output` are stored, then replayed on whichever route answers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.runnables import RunnableBinding
from langchain_core.tools import tool
from langchain_routerkit import ChatRouterkit
from pydantic import BaseModel
from routerkit.errors import ConfigError

LONG = "Explain, step by step and with proofs, " + "why this matters " * 40
SHORT = "hi there"

Make = Callable[..., ChatRouterkit]


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Person(BaseModel):
    """A person."""

    name: str
    age: int


def test_bound_tools_are_replayed_on_the_chosen_route(make_model: Make, fake: Any) -> None:
    routes = {"big": fake(reply="", tool_args={"a": 1, "b": 2}), "small": fake(reply="", tool_args={"a": 3, "b": 4})}
    bound = make_model(routes=routes).bind_tools([add], tool_choice="any")
    assert isinstance(bound, RunnableBinding)
    short, long = bound.invoke(SHORT), bound.invoke(LONG)
    assert [c["args"] for c in short.tool_calls] == [{"a": 3, "b": 4}]
    assert [c["args"] for c in long.tool_calls] == [{"a": 1, "b": 2}]
    assert short.response_metadata["routerkit_route"] == "small"
    (call,) = routes["small"].calls
    assert call["tools"][0]["function"]["name"] == "add"  # converted by the route, as a provider would
    assert call["tool_choice"] == "any"


def test_bound_tools_stream_and_run_async(make_model: Make, fake: Any) -> None:
    bound = make_model(routes={"big": fake(reply="big"), "small": fake(reply="a b")}).bind_tools([add])
    assert "".join(str(c.content) for c in bound.stream(SHORT)) == "a b"
    message = asyncio.run(bound.ainvoke(LONG))
    assert message.response_metadata["routerkit_route"] == "big"
    assert message.tool_calls[0]["name"] == "add"


def test_a_route_without_tools_gives_way_to_the_default_route(make_model: Make, fake: Any) -> None:
    routes = {"big": fake(reply="", tool_args={"a": 1, "b": 1}), "small": FakeListChatModel(responses=["no tools"])}
    model = make_model(routes=routes)
    message = model.bind_tools([add]).invoke(SHORT)
    assert message.tool_calls[0]["name"] == "add"
    assert message.response_metadata["routerkit_route"] == "big"
    assert message.response_metadata["routerkit_diverted_from"] == "small"
    assert message.response_metadata["routerkit_decision"]["model"] == "small"  # what the router said
    assert model.invoke(SHORT).content == "no tools"  # without tools, the router's choice stands


def test_a_profile_that_rules_out_tools_diverts_too(make_model: Make, fake: Any) -> None:
    routes = {"big": fake(reply="big"), "small": fake(reply="small", profile={"tool_calling": False})}
    message = make_model(routes=routes).bind_tools([add]).invoke(SHORT)
    assert message.response_metadata["routerkit_route"] == "big"


def test_on_unavailable_error_refuses_instead_of_diverting(make_model: Make, fake: Any) -> None:
    model = make_model(routes={"big": fake(), "small": FakeListChatModel(responses=["x"])}, on_unavailable="error")
    with pytest.raises(ConfigError, match="chose 'small', which cannot call tools"):
        model.bind_tools([add]).invoke(SHORT)


def test_default_route_picks_the_stand_in(make_model: Make, fake: Any) -> None:
    routes = {"big": FakeListChatModel(responses=["x"]), "small": fake(reply="small"), "tools": fake(reply="tools")}
    model = make_model(routes=routes, default_route="tools")
    assert model.bind_tools([add]).invoke(LONG).response_metadata["routerkit_route"] == "tools"
    without_default = make_model(routes=routes)
    with pytest.raises(ConfigError, match="default route 'big'"):
        without_default.bind_tools([add]).invoke(LONG)


def test_a_forced_route_that_cannot_call_tools_is_an_error(make_model: Make, fake: Any) -> None:
    model = make_model(routes={"big": fake(), "small": FakeListChatModel(responses=["x"])})
    with pytest.raises(ConfigError, match="forced route 'small'"):
        model.bind_tools([add]).invoke(LONG, {"configurable": {"route": "small"}})


def test_binding_tools_when_no_route_can_is_an_error(make_model: Make) -> None:
    routes = {"big": FakeListChatModel(responses=["x"]), "small": FakeListChatModel(responses=["y"])}
    with pytest.raises(ConfigError, match="No route of this ChatRouterkit can call tools"):
        make_model(routes=routes).bind_tools([add])
    with pytest.raises(ConfigError, match="produce structured output"):
        make_model(routes=routes).with_structured_output(Person)


def test_structured_output_routes_first_then_parses_with_the_route(make_model: Make, fake: Any) -> None:
    routes = {"big": fake(tool_args={"name": "Ada", "age": 36}), "small": fake(tool_args={"name": "Bob", "age": 7})}
    structured = make_model(routes=routes).with_structured_output(Person)
    assert structured.invoke(SHORT) == Person(name="Bob", age=7)
    assert structured.invoke(LONG) == Person(name="Ada", age=36)
    assert asyncio.run(structured.ainvoke(LONG)) == Person(name="Ada", age=36)
    assert structured.batch([SHORT, LONG]) == [Person(name="Bob", age=7), Person(name="Ada", age=36)]


def test_structured_output_with_raw_carries_the_decision(make_model: Make, fake: Any) -> None:
    routes = {"big": fake(tool_args={"name": "Ada", "age": 36}), "small": fake(tool_args={"name": "Bob", "age": 7})}
    result = make_model(routes=routes).with_structured_output(Person, include_raw=True).invoke(LONG)
    assert result["parsed"] == Person(name="Ada", age=36)
    assert result["raw"].response_metadata["routerkit_route"] == "big"


def test_structured_output_options_are_replayed_unchanged(make_model: Make, fake: Any) -> None:
    seen: list[dict[str, Any]] = []

    class NativeJson(fake):  # type: ignore[misc, valid-type]
        """A route with its own `with_structured_output` (e.g. a provider's JSON-schema mode)."""

        def with_structured_output(self, schema: Any, *, include_raw: bool = False, **kwargs: Any) -> Any:
            seen.append({"schema": schema, "include_raw": include_raw, **kwargs})
            return super().with_structured_output(schema, include_raw=include_raw)

    routes = {"big": fake(), "small": NativeJson(tool_args={"name": "Bob", "age": 7})}
    structured = make_model(routes=routes).with_structured_output(Person, method="json_schema", strict=True)
    assert structured.invoke(SHORT) == Person(name="Bob", age=7)
    assert seen == [{"schema": Person, "include_raw": False, "method": "json_schema", "strict": True}]
