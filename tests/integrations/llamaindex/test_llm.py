"""`RouterkitLLM`: construction checks, routing of the eight call methods, tags, forced and default routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import routerkit
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse, CompletionResponseGen
from llama_index.core.bridge.pydantic import Field
from llama_index.core.llms import LLM, MockFunctionCallingLLM, MockLLM
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.llms.routerkit import RouterkitLLM
from routerkit.errors import ConfigError, UnknownNameError
from routerkit.plugins import Plugins
from routerkit.routers import Decision, Router

LONG = "Explain, step by step and with worked examples, how a B-tree stays balanced. " * 8
SHORT = "hi there"


Response = ChatResponse | CompletionResponse


class KwargsRecorder(MockLLM):
    """A `MockLLM` that records the keyword arguments of every call (all eight methods end in these two)."""

    seen: list[dict[str, Any]] = Field(default_factory=list, exclude=True)

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.seen.append(kwargs)
        return super().complete(prompt, formatted, **kwargs)

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        self.seen.append(kwargs)
        return super().stream_complete(prompt, formatted, **kwargs)


def _routes() -> dict[str, LLM]:
    # Different max_tokens make the answers tell the routes apart: "text text text" is `big`.
    return {"big": MockLLM(max_tokens=3), "small": MockLLM(max_tokens=1)}


def _user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content=text)]


async def _collect(chunks: AsyncIterator[Any]) -> list[Any]:
    return [chunk async for chunk in chunks]


def _call(llm: RouterkitLLM, method: str, text: str, **kwargs: Any) -> tuple[Response, str]:
    """Call one of the eight methods; return its (last) response and the whole answer text."""
    arg: Any = _user(text) if "chat" in method else text
    if method.startswith("astream"):
        chunks = asyncio.run(_all_async(getattr(llm, method), arg, **kwargs))
    elif method.startswith("stream"):
        chunks = list(getattr(llm, method)(arg, **kwargs))
    elif method.startswith("a"):
        response = asyncio.run(getattr(llm, method)(arg, **kwargs))
        return response, _text(response)
    else:
        response = getattr(llm, method)(arg, **kwargs)
        return response, _text(response)
    return chunks[-1], "".join(chunk.delta or "" for chunk in chunks)


def _text(response: Response) -> str:
    return (response.message.content if isinstance(response, ChatResponse) else response.text) or ""


async def _all_async(method: Any, arg: Any, **kwargs: Any) -> list[Any]:
    return await _collect(await method(arg, **kwargs))


METHODS = [
    "chat",
    "stream_chat",
    "achat",
    "astream_chat",
    "complete",
    "stream_complete",
    "acomplete",
    "astream_complete",
]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("text", "route"), [(SHORT, "small"), (LONG, "big")], ids=["short-to-small", "long-to-big"])
def test_every_method_routes_and_tags_the_response(length_router: Router, method: str, text: str, route: str) -> None:
    llm = RouterkitLLM(routes=_routes(), router=length_router)
    response, answer = _call(llm, method, text)
    assert response.additional_kwargs["route"] == route
    decision = response.additional_kwargs["routerkit_decision"]
    assert isinstance(decision, Decision)
    assert (decision.model, decision.role, decision.router) == (route, "strong" if route == "big" else "weak", "length")
    assert answer == ("text text text" if route == "big" else "text")


def test_the_policy_overrides_the_routers_default(length_router: Router) -> None:
    everything_strong = RouterkitLLM(routes=_routes(), router=length_router, policy=routerkit.Threshold(0.0))
    assert everything_strong.complete(SHORT).additional_kwargs["route"] == "big"
    everything_weak = RouterkitLLM(routes=_routes(), router=length_router, policy=routerkit.Threshold(1.0))
    assert everything_weak.complete(LONG).additional_kwargs["route"] == "small"


def test_chat_is_routed_on_the_last_user_message(length_router: Router) -> None:
    llm = RouterkitLLM(routes=_routes(), router=length_router)
    long_then_short = [ChatMessage(role="user", content=LONG), ChatMessage(role="assistant", content="ok")]
    long_then_short.append(ChatMessage(role="user", content=SHORT))
    assert llm.chat(long_then_short).additional_kwargs["route"] == "small"


@pytest.mark.parametrize("method", METHODS)
def test_routerkit_route_forces_a_route_and_is_not_passed_on(length_router: Router, method: str) -> None:
    big = KwargsRecorder(max_tokens=3)
    llm = RouterkitLLM(routes={"big": big, "small": MockLLM()}, router=length_router)
    response, answer = _call(llm, method, SHORT, routerkit_route="big", temperature=0.1)
    assert (response.additional_kwargs["route"], answer) == ("big", "text text text")
    assert response.additional_kwargs["routerkit_decision"] is None
    assert big.seen == [{"temperature": 0.1}]


def test_an_unknown_forced_route_is_refused(length_router: Router) -> None:
    llm = RouterkitLLM(routes=_routes(), router=length_router)
    with pytest.raises(UnknownNameError, match=r"Unknown route 'huge'\. Available: 'big', 'small'\. Use one"):
        llm.complete(SHORT, routerkit_route="huge")


def test_default_route_answers_conversations_without_a_user_message(length_router: Router) -> None:
    llm = RouterkitLLM(routes=_routes(), router=length_router, default_route="big")
    response = llm.chat([ChatMessage(role="system", content="Say something.")])
    assert response.additional_kwargs["route"] == "big"
    assert response.additional_kwargs["routerkit_decision"] is None
    assert llm.chat(_user(SHORT)).additional_kwargs["route"] == "small"  # the router still decides otherwise


def test_without_default_route_a_conversation_without_user_message_is_an_error(length_router: Router) -> None:
    llm = RouterkitLLM(routes=_routes(), router=length_router)
    with pytest.raises(ConfigError, match=r"No message with role 'user' among roles \['system'\]"):
        llm.chat([ChatMessage(role="system", content="Say something.")])


@pytest.mark.parametrize("default_route", [None, "big"], ids=["no-default", "with-default"])
@pytest.mark.parametrize(
    ("method", "bad", "message"),
    [
        ("complete", "", r"The prompt is empty \(''\)"),
        ("complete", "   ", r"The prompt is empty"),
        ("chat", [], r"The message list is empty"),
        ("chat", [ChatMessage(role="user", content="  ")], r"The last user message is empty"),
        ("complete", ["not", "a", "string"], r"A completion prompt must be a string, got list"),
        ("chat", "a string", r"`messages` must be a list of `ChatMessage`, got str"),
        ("chat", [{"role": "user", "content": "hi"}], r"`messages` must hold `ChatMessage` objects, got dict"),
    ],
    ids=["empty-prompt", "blank-prompt", "no-messages", "blank-user-message", "list-prompt", "str-messages", "dicts"],
)
def test_bad_input_is_a_config_error(
    length_router: Router, default_route: str | None, method: str, bad: Any, message: str
) -> None:
    llm = RouterkitLLM(routes=_routes(), router=length_router, default_route=default_route)
    with pytest.raises(ConfigError, match=message):
        getattr(llm, method)(bad)
    with pytest.raises(ConfigError, match=message):
        asyncio.run(getattr(llm, f"a{method}")(bad))


def test_a_router_whose_candidates_have_no_route_is_refused(length_router: Router) -> None:
    with pytest.raises(
        ConfigError,
        match=r"Router 'length' can choose \['big', 'small'\], but `routes` has no \['small'\] "
        r"\(it has \['big', 'tiny'\]\)\. Add a LlamaIndex `LLM` for each",
    ):
        RouterkitLLM(routes={"big": MockLLM(), "tiny": MockLLM()}, router=length_router)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"router": 0.5}, r"`router` must be a router name or a `routerkit\.Router`, got float \(0\.5\)\. Pass e\.g\."),
        ({"routes": {}}, r"`routes` must be a non-empty dict of route name → LlamaIndex `LLM`, got \{\}"),
        ({"routes": [MockLLM()]}, r"`routes` must be a non-empty dict"),
        (
            {"routes": {"big": MockLLM(), "small": "gpt-4o"}},
            r"`routes` maps 'small' to str \('gpt-4o'\); .* every value a LlamaIndex `LLM`",
        ),
        (
            {"policy": 0.5},
            r"`policy` must be a routerkit `Policy` or None, got float \(0\.5\)\. Pass e\.g\. `routerkit\.Threshold",
        ),
    ],
    ids=[
        "router-not-a-router",
        "no-routes",
        "list-of-routes",
        "non-llm-route",
        "number-policy",
    ],
)
def test_wrong_construction_arguments_are_config_errors(
    length_router: Router, kwargs: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"routes": _routes(), "router": length_router, **kwargs}
    with pytest.raises(ConfigError, match=message):
        RouterkitLLM(**arguments)


def test_an_unknown_default_route_lists_the_routes(length_router: Router) -> None:
    with pytest.raises(UnknownNameError, match=r"Unknown route 'huge'\. Available: 'big', 'small'\."):
        RouterkitLLM(routes=_routes(), router=length_router, default_route="huge")


@pytest.mark.usefixtures("plugins")
def test_a_router_can_be_named() -> None:
    default = routerkit.load("length")  # its default candidates name the routes
    routes: dict[str, LLM] = {default.strong: MockLLM(max_tokens=2), default.weak: MockLLM(max_tokens=1)}
    llm = RouterkitLLM(routes=routes, router="length")
    assert llm.router.name == "length"
    assert llm.complete(LONG).additional_kwargs["route"] == default.strong
    assert llm.complete(SHORT).additional_kwargs["route"] == default.weak


def test_extra_routes_beyond_the_candidates_are_allowed_and_reachable(length_router: Router) -> None:
    llm = RouterkitLLM(routes={**_routes(), "fallback": MockLLM(max_tokens=2)}, router=length_router)
    assert llm.complete(SHORT, routerkit_route="fallback").text == "text text"


def test_metadata_is_what_every_route_can_do(length_router: Router) -> None:
    chatty, defaults = MockFunctionCallingLLM(is_chat_model=True), MockFunctionCallingLLM().metadata
    metadata = RouterkitLLM(routes={"big": chatty, "small": chatty.model_copy()}, router=length_router).metadata
    assert metadata.model_name == "routerkit/length"
    assert (metadata.is_chat_model, metadata.is_function_calling_model) == (True, True)
    assert (metadata.context_window, metadata.num_output) == (defaults.context_window, defaults.num_output)

    mixed = RouterkitLLM(routes={"big": chatty, "small": MockLLM(max_tokens=7)}, router=length_router)
    assert (mixed.metadata.is_chat_model, mixed.metadata.is_function_calling_model) == (False, False)
    assert mixed.metadata.num_output == min(7, defaults.num_output)


def test_the_smallest_context_window_wins(length_router: Router) -> None:
    class SmallWindow(MockLLM):
        @property
        def metadata(self) -> Any:
            return super().metadata.model_copy(update={"context_window": 1000})

    llm = RouterkitLLM(routes={"big": MockLLM(), "small": SmallWindow()}, router=length_router)
    assert llm.metadata.context_window == 1000


def test_it_is_a_function_calling_llm_and_serialises(length_router: Router) -> None:
    llm = RouterkitLLM(routes=_routes(), router=length_router, default_route="small")
    assert isinstance(llm, FunctionCallingLLM)
    assert RouterkitLLM.class_name() == "RouterkitLLM"
    data = llm.to_dict()
    assert data["class_name"] == "RouterkitLLM"
    assert data["default_route"] == "small"
    assert sorted(data["routes"]) == ["big", "small"]
    assert "router" not in data  # a router is an ONNX session, not configuration: excluded like callbacks


def test_the_shipped_mf_router_routes_between_its_candidates(plugins: Plugins) -> None:
    router = routerkit.load("mf")
    routes: dict[str, LLM] = {router.strong: MockLLM(max_tokens=2), router.weak: MockLLM(max_tokens=1)}
    llm = RouterkitLLM(routes=routes, router=router, policy=routerkit.Threshold(0.0))
    response = llm.complete("Prove that sqrt(2) is irrational.")
    assert response.additional_kwargs["route"] == router.strong == "gpt-4-1106-preview"
    assert 0.0 <= response.additional_kwargs["routerkit_decision"].scores["strong_win_rate"] <= 1.0
