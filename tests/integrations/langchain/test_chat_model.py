"""`ChatRouterkit`: construction checks, routing, forced routes, call options, profile and LangChain plumbing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import routerkit
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.outputs import LLMResult
from langchain_core.prompt_values import ChatPromptValue
from langchain_routerkit import ChatRouterkit
from pydantic import ValidationError
from routerkit.errors import ConfigError, UnknownNameError

LONG = "Explain, step by step and with proofs, " + "why this matters " * 40
SHORT = "hi there"

Make = Callable[..., ChatRouterkit]


def _fakes() -> dict[str, Any]:
    return {"big": FakeListChatModel(responses=["big"]), "small": FakeListChatModel(responses=["small"])}


# --- routing ---


def test_short_prompts_go_to_the_small_route_and_long_ones_to_the_big_one(make_model: Make) -> None:
    model = make_model()
    short, long = model.invoke(SHORT), model.invoke(LONG)
    assert (short.content, long.content) == ("small answer", "big answer")
    assert short.response_metadata["routerkit_route"] == "small"
    decision = short.response_metadata["routerkit_decision"]
    assert (decision["model"], decision["role"], decision["router"]) == ("small", "weak", "length")
    assert long.response_metadata["routerkit_decision"]["scores"]["strong_win_rate"] > 0.5
    assert short.response_metadata["model_name"] == "small"  # the route's own metadata is kept


def test_the_router_scores_the_last_user_turn_of_a_conversation(make_model: Make) -> None:
    model = make_model()
    conversation = [SystemMessage(LONG), HumanMessage(LONG), ("ai", "ok"), ("human", SHORT)]
    assert model.invoke(conversation).response_metadata["routerkit_route"] == "small"
    prompt = ChatPromptValue(messages=[HumanMessage(content=[{"type": "text", "text": LONG}])])
    assert model.invoke(prompt).response_metadata["routerkit_route"] == "big"


def test_the_route_receives_the_messages_unchanged(make_model: Make) -> None:
    model = make_model()
    model.invoke([SystemMessage("be brief"), HumanMessage(SHORT)])
    (call,) = model.routes["small"].calls  # type: ignore[attr-defined]
    assert [m.content for m in call["messages"]] == ["be brief", SHORT]
    assert model.routes["big"].calls == []  # type: ignore[attr-defined]


def test_a_router_can_be_named(plugins: object) -> None:
    names = ("gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1")  # the `length` router's default models
    model = ChatRouterkit(router="length", routes=dict(zip(names, _fakes().values(), strict=True)))
    assert isinstance(model.router, routerkit.Router)
    assert model.invoke(LONG).response_metadata["routerkit_route"] == names[0]


@pytest.mark.parametrize(
    ("options", "route"),
    [
        ({"threshold": 0.0}, "big"),
        ({"policy": routerkit.Threshold(0.0)}, "big"),
        ({"threshold": 1.0}, "small"),
    ],
    ids=["threshold-0", "policy-threshold-0", "threshold-1"],
)
def test_policy_and_threshold_choose(make_model: Make, options: dict[str, Any], route: str) -> None:
    message = make_model(**options).invoke(SHORT if route == "big" else LONG)
    assert message.response_metadata["routerkit_route"] == route


def test_a_forced_route_skips_the_router(make_model: Make, router: Any) -> None:
    model = make_model()
    message = model.with_config(configurable={"route": "big"}).invoke(SHORT)
    assert message.content == "big answer"
    assert message.response_metadata["routerkit_route"] == "big"
    assert message.response_metadata["routerkit_decision"] is None
    assert router.score_calls == []
    schema = model.config_schema().model_json_schema()
    assert "route" in schema["$defs"]["Configurable"]["properties"]


def test_call_options_reach_the_chosen_route(make_model: Make) -> None:
    model = make_model(temperature=0.2, max_tokens=50, stop=["END"])
    model.invoke(SHORT)
    model.invoke(SHORT, stop=["STOP"], temperature=0.9)
    first, second = model.routes["small"].calls  # type: ignore[attr-defined]
    assert (first["temperature"], first["max_tokens"], first["stop"]) == (0.2, 50, ["END"])
    assert (second["temperature"], second["max_tokens"], second["stop"]) == (0.9, 50, ["STOP"])


def test_streaming_true_makes_the_route_stream_inside_invoke(make_model: Make, counter: Any) -> None:
    model = make_model(streaming=True)
    assert model.invoke(SHORT, {"callbacks": [counter]}).content == "small answer"
    assert model.routes["small"].calls[0]["streamed"] is True  # type: ignore[attr-defined]
    assert [t for t in counter.tokens if t] == ["small ", "answer"]


def test_stream_tags_the_first_chunk(make_model: Make) -> None:
    chunks = list(make_model().stream(LONG))
    assert "".join(str(c.content) for c in chunks) == "big answer"
    assert chunks[0].response_metadata["routerkit_route"] == "big"
    assert all("routerkit_route" not in c.response_metadata for c in chunks[1:])
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk
    assert merged.response_metadata["routerkit_decision"]["model"] == "big"


def test_async_invoke_and_stream_route(make_model: Make) -> None:
    model = make_model()

    async def run() -> tuple[Any, list[Any]]:
        return await model.ainvoke(LONG), [c async for c in model.astream(SHORT)]

    message, chunks = asyncio.run(run())
    assert message.response_metadata["routerkit_route"] == "big"
    assert "".join(str(c.content) for c in chunks) == "small answer"
    assert chunks[0].response_metadata["routerkit_route"] == "small"


def test_generate_routes_each_prompt(make_model: Make, counter: Any) -> None:
    result = make_model().generate([[HumanMessage(SHORT)], [HumanMessage(LONG)]], callbacks=[counter], run_name="gen")
    assert list(counter.chains.values()) == ["gen", "gen"]
    assert isinstance(result, LLMResult)
    assert [g[0].text for g in result.generations] == ["small answer", "big answer"]
    agenerated = asyncio.run(make_model().agenerate([[HumanMessage(LONG)]]))
    assert agenerated.generations[0][0].message.response_metadata["routerkit_route"] == "big"


# --- LangChain plumbing ---


def test_generate_is_never_the_path(make_model: Make) -> None:
    with pytest.raises(NotImplementedError, match="invoke"):
        make_model()._generate([HumanMessage(SHORT)])


def test_stream_events_v3_is_refused_and_v2_routes(make_model: Make) -> None:
    model = make_model()
    with pytest.raises(NotImplementedError, match="version='v2'"):
        model.stream_events(SHORT, version="v3")

    async def events() -> list[dict[str, Any]]:
        return [e async for e in model.astream_events(SHORT, version="v2")]

    kinds = [e["event"] for e in asyncio.run(events())]
    assert kinds.count("on_chat_model_start") == 1
    assert kinds.count("on_chat_model_stream") == 3  # two words, then the empty closing chunk LangChain adds
    assert kinds.count("on_chain_stream") == 3  # the router's own run streams the same chunks
    assert kinds[0] == "on_chain_start" and kinds[-1] == "on_chain_end"


def test_langsmith_params_name_the_router(make_model: Make) -> None:
    params = make_model(max_tokens=10, stop=["x"])._get_ls_params()
    assert params == {
        "ls_provider": "routerkit",
        "ls_model_name": "routerkit/length",
        "ls_model_type": "chat",
        "ls_max_tokens": 10,
        "ls_stop": ["x"],
    }
    assert make_model()._get_ls_params(model="other")["ls_model_name"] == "other"


def test_the_profile_is_what_every_route_can_do(make_model: Make, fake: Any) -> None:
    big = fake(profile={"max_input_tokens": 200_000, "tool_calling": True, "name": "Big", "image_inputs": True})
    small = fake(profile={"max_input_tokens": 8_000, "tool_calling": True, "name": "Small"})
    assert make_model(routes={"big": big, "small": small}).profile == {"max_input_tokens": 8_000, "tool_calling": True}
    assert make_model(routes={"big": big, "small": fake()}).profile is None


# --- bad input ---


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"router": 42}, "must be a router name or a `routerkit.Router`"),
        ({"routes": {}}, "non-empty dict"),
        ({"routes": ["big", "small"]}, "non-empty dict"),
        ({"routes": {"big": "gpt-4", "small": FakeListChatModel(responses=["x"])}}, r"maps 'big' to str \('gpt-4'\)"),
        ({"routes": {1: FakeListChatModel(responses=["x"])}}, "maps 1 to FakeListChatModel"),
        ({"routes": {"small": FakeListChatModel(responses=["x"])}}, r"but `routes` has no \['big'\]"),
        ({"routes": {**_fakes(), "big": FakeListChatModel(responses=["x"]).with_retry()}}, "RunnableRetry"),
        ({"policy": 0.5}, r"`policy` must be a routerkit `Policy` or None, got float"),
        ({"timeout": 30}, r"unknown parameter\(s\) \['timeout'\]"),
        ({"cache": True}, "does not take `cache`"),
        ({"threshold": 0.5, "policy": routerkit.Threshold(0.2)}, "not both"),
    ],
    ids=[
        "router-not-a-router",
        "empty-routes",
        "routes-not-a-dict",
        "route-not-a-model",
        "route-name-not-a-string",
        "router-model-without-route",
        "wrapped-route",
        "policy-not-a-policy",
        "client-setting",
        "cache",
        "policy-and-threshold",
    ],
)
def test_bad_construction_is_a_config_error(make_model: Make, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_model(**{"routes": _fakes(), **options})


def test_an_unknown_router_name_lists_the_names(plugins: object) -> None:
    with pytest.raises(UnknownNameError, match="'length'"):
        ChatRouterkit(router="no_such_router", routes=_fakes())


def test_a_threshold_outside_0_1_is_refused(make_model: Make) -> None:
    with pytest.raises(ValidationError, match="threshold"):
        make_model(threshold=1.5)


@pytest.mark.parametrize(
    ("model_input", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ([SystemMessage("only a system prompt")], "No message with role 'user'"),
        (42, "takes a string, a list of messages or a PromptValue"),
        ([{"nonsense": True}], "Could not read the messages"),
    ],
    ids=["empty", "blank", "no-user-turn", "int", "malformed-message"],
)
def test_bad_prompts_are_config_errors(make_model: Make, counter: Any, model_input: Any, message: str) -> None:
    model = make_model()
    with pytest.raises(ConfigError, match=message):
        model.invoke(model_input, {"callbacks": [counter]})
    with pytest.raises(ConfigError, match=message):
        list(model.stream(model_input))
    assert counter.chat_starts == []


def test_a_failed_call_ends_its_chain_run_with_the_error(make_model: Make, counter: Any) -> None:
    with pytest.raises(ConfigError):
        make_model().invoke("", {"callbacks": [counter]})
    assert len(counter.router_runs()) == 1
    assert isinstance(counter.chain_errors[0], ConfigError)


def test_an_unknown_forced_route_lists_the_routes(make_model: Make) -> None:
    with pytest.raises(UnknownNameError, match=r"Unknown route 'huge'\. Available: 'big', 'small'\."):
        make_model().invoke(SHORT, {"configurable": {"route": "huge"}})


def test_an_unknown_default_route_lists_the_routes(make_model: Make) -> None:
    with pytest.raises(UnknownNameError, match=r"Unknown route 'huge'\. Available: 'big', 'small'\."):
        make_model(default_route="huge")


def test_routes_without_streaming_still_stream_through_the_router(make_model: Make) -> None:
    routes = {"big": GenericFakeChatModel(messages=iter(["a b"])), "small": FakeListChatModel(responses=["c"])}
    model = make_model(routes=routes)
    assert [c.content for c in model.stream(LONG)] == ["a", " ", "b"]
    assert "".join(str(c.content) for c in model.stream(SHORT)) == "c"


def test_a_forced_route_does_not_leak_into_a_nested_router(make_model: Make, fake: Any) -> None:
    inner = make_model()
    outer = make_model(routes={"big": inner, "small": fake(reply="outer small")})
    answer = outer.invoke(SHORT, {"configurable": {"route": "big"}})
    assert answer.content == "small answer"  # the inner router decided for itself
    assert answer.response_metadata["routerkit_route"] == "big"  # the outermost router's choice is the one shown
