"""`RouterkitLLM`: a LlamaIndex LLM that asks a routerkit router which route answers, then delegates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
)
from llama_index.core.llms.llm import ToolSelection
from llama_index.llms.routerkit._messages import (
    atag_stream,
    route_tag,
    router_prompt,
    tag,
    tag_stream,
    tool_call_messages,
)
from llama_index.llms.routerkit._routing import FORCE_ROUTE_KWARG, RoutingLLM

from routerkit.errors import ConfigError

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["RouterkitLLM"]


class RouterkitLLM(RoutingLLM):
    """Routes each call to the LlamaIndex LLM that a routerkit router chooses.

    Chat calls are routed on the last user message, completions on the prompt, `*_with_tools` calls on
    the last user message of `chat_history` + `user_msg`. The chosen route makes the whole call, so its
    own callbacks and instrumentation events are the call's: this class adds none of those, only a
    `RoutingDecisionEvent`. Every response, and every streamed chunk, carries the route's name in
    `additional_kwargs["route"]` and the `Decision` in `additional_kwargs["routerkit_decision"]`.

    Pass `routerkit_route="<name>"` to any call to skip the router and use that route.

    Args:
        routes: one LlamaIndex LLM per name; every candidate model of `router` must be a key.
        router: the routerkit router, e.g. `routerkit.load("mf")`, or a router name such as `"mf"`.
        default_route: the route for chat requests without a user message (None: such requests are an
            error, as the router has nothing to score).
        policy: overrides the router's default policy (e.g. a policy from `routerkit.calibrate`).
        callback_manager: LlamaIndex callbacks; routes constructed without handlers use this one.

    Raises:
        ConfigError: if an argument has the wrong type, or a candidate of `router` has no route.
        UnknownNameError: if `router` names no registered router, or `default_route` (or a call's
            `routerkit_route`) names no route.
    """

    __module__ = "llama_index.llms.routerkit"  # the public path, for reprs, docs and pickles

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this class under."""
        return "RouterkitLLM"

    # -- chat and completion: decide, delegate, tag --

    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Route on the last user message and return the route's answer, tagged."""
        routed = self._route(router_prompt(messages), kwargs)
        return tag(routed.llm.chat(messages, **kwargs), routed.name, routed.decision)

    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Route on the last user message and stream the route's answer, every chunk tagged."""
        routed = self._route(router_prompt(messages), kwargs)
        return tag_stream(routed.llm.stream_chat(messages, **kwargs), routed.name, routed.decision)

    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Async `chat`."""
        routed = await self._aroute(router_prompt(messages), kwargs)
        return tag(await routed.llm.achat(messages, **kwargs), routed.name, routed.decision)

    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        """Async `stream_chat`."""
        routed = await self._aroute(router_prompt(messages), kwargs)
        return atag_stream(await routed.llm.astream_chat(messages, **kwargs), routed.name, routed.decision)

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Route on `prompt` and return the route's completion, tagged."""
        routed = self._route(_completion_prompt(prompt), kwargs)
        return tag(routed.llm.complete(prompt, formatted=formatted, **kwargs), routed.name, routed.decision)

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        """Route on `prompt` and stream the route's completion, every chunk tagged."""
        routed = self._route(_completion_prompt(prompt), kwargs)
        chunks = routed.llm.stream_complete(prompt, formatted=formatted, **kwargs)
        return tag_stream(chunks, routed.name, routed.decision)

    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Async `complete`."""
        routed = await self._aroute(_completion_prompt(prompt), kwargs)
        response = await routed.llm.acomplete(prompt, formatted=formatted, **kwargs)
        return tag(response, routed.name, routed.decision)

    async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseAsyncGen:
        """Async `stream_complete`."""
        routed = await self._aroute(_completion_prompt(prompt), kwargs)
        chunks = await routed.llm.astream_complete(prompt, formatted=formatted, **kwargs)
        return atag_stream(chunks, routed.name, routed.decision)

    # -- tools: decide once from the conversation, let the route do the provider-specific work --

    def chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Route on the conversation, then let the route run `chat_with_tools`; the response is tagged."""
        routed = self._route(router_prompt(tool_call_messages(user_msg, chat_history)), kwargs)
        call = _tool_call(user_msg, chat_history, verbose, allow_parallel_tool_calls, tool_required, kwargs)
        response = self._function_calling(routed.name).chat_with_tools(tools, **call)
        return tag(response, routed.name, routed.decision)

    async def achat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Async `chat_with_tools`."""
        routed = await self._aroute(router_prompt(tool_call_messages(user_msg, chat_history)), kwargs)
        call = _tool_call(user_msg, chat_history, verbose, allow_parallel_tool_calls, tool_required, kwargs)
        response = await self._function_calling(routed.name).achat_with_tools(tools, **call)
        return tag(response, routed.name, routed.decision)

    def stream_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> ChatResponseGen:
        """Streaming `chat_with_tools`; every chunk is tagged, so tool calls can be read from the last."""
        routed = self._route(router_prompt(tool_call_messages(user_msg, chat_history)), kwargs)
        call = _tool_call(user_msg, chat_history, verbose, allow_parallel_tool_calls, tool_required, kwargs)
        chunks = self._function_calling(routed.name).stream_chat_with_tools(tools, **call)
        return tag_stream(chunks, routed.name, routed.decision)

    async def astream_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> ChatResponseAsyncGen:
        """Async `stream_chat_with_tools` (what `FunctionAgent` calls)."""
        routed = await self._aroute(router_prompt(tool_call_messages(user_msg, chat_history)), kwargs)
        call = _tool_call(user_msg, chat_history, verbose, allow_parallel_tool_calls, tool_required, kwargs)
        chunks = await self._function_calling(routed.name).astream_chat_with_tools(tools, **call)
        return atag_stream(chunks, routed.name, routed.decision)

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The chosen route's chat arguments, plus `routerkit_route` so that `chat(**them)` uses that route."""
        routed = self._route(router_prompt(tool_call_messages(user_msg, chat_history)), kwargs)
        call = _tool_call(user_msg, chat_history, verbose, allow_parallel_tool_calls, tool_required, kwargs)
        # LlamaIndex's own entry point for this step: it drops `tool_required` for routes that predate it.
        chat_kwargs = self._function_calling(routed.name)._prepare_chat_with_tools_compat(tools, **call)
        return {**chat_kwargs, FORCE_ROUTE_KWARG: routed.name}

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        """Parse tool calls with the route that produced `response` (tool-call formats are provider-specific).

        Raises:
            ConfigError: if `response` was not produced by this router (it carries no route tag).
            UnknownNameError: if its route tag names no route of this router.
        """
        name = route_tag(response)
        if name is None:
            if not error_on_no_tool_call and _is_empty(response):
                return []  # `FunctionAgent` asks about a placeholder response when a stream yields nothing
            raise ConfigError(
                "This response carries no `route` in `additional_kwargs`, so the route that can parse its "
                "tool calls is unknown. Pass a response returned by this `RouterkitLLM`."
            )
        route = self._function_calling(name)
        return route.get_tool_calls_from_response(response, error_on_no_tool_call=error_on_no_tool_call, **kwargs)


def _tool_call(
    user_msg: str | ChatMessage | None,
    chat_history: list[ChatMessage] | None,
    verbose: bool,
    allow_parallel_tool_calls: bool,
    tool_required: bool,
    kwargs: dict[str, Any],
) -> dict[str, Any]:
    """The keyword arguments of a `*_with_tools` call, passed on unchanged to the route."""
    return {
        "user_msg": user_msg,
        "chat_history": chat_history,
        "verbose": verbose,
        "allow_parallel_tool_calls": allow_parallel_tool_calls,
        "tool_required": tool_required,
        **kwargs,
    }


def _completion_prompt(prompt: object) -> str:
    if not isinstance(prompt, str):
        raise ConfigError(
            f"A completion prompt must be a string, got {type(prompt).__name__} ({prompt!r:.60}). "
            "Use `chat(messages)` for `ChatMessage` lists."
        )
    return prompt


def _is_empty(response: ChatResponse) -> bool:
    message = response.message
    return not message.blocks and not message.additional_kwargs
