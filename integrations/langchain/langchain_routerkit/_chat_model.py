"""`ChatRouterkit`: a LangChain chat model that asks a routerkit router which route answers each call."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Literal, cast

from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput, ModelProfile
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.runnables import ConfigurableFieldSpec, Runnable, RunnableConfig, ensure_config
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field
from routerkit.adapters import pick_route
from routerkit.errors import ConfigError
from routerkit.routers.base import Router
from routerkit.routers.policies import Policy

from langchain_routerkit import _batch, _calls, _runs
from langchain_routerkit._base import RouterkitChatBase
from langchain_routerkit._capabilities import (
    STRUCTURED_KEY,
    TOOLS_KEY,
    Deferred,
    StructuredOutputSpec,
    ToolsSpec,
    intersect_profiles,
    pop_deferred,
)
from langchain_routerkit._messages import tag, to_messages
from langchain_routerkit._settings import (
    check_known_parameters,
    check_route_level_settings,
    check_router_and_policy,
    check_routes,
    effective_policy,
)

__all__ = ["ChatRouterkit"]


class ChatRouterkit(RouterkitChatBase):
    """A chat model that routes each call to the route its router chooses, then lets that route answer.

    The router scores the last user turn and returns a `routerkit.Decision`; the route named by
    `decision.model` answers as a child run of one `ChatRouterkit` chain run, so callbacks and tracing see
    exactly one chat-model call per request and token usage is counted once. The decision is in the
    answer's `response_metadata["routerkit_decision"]` (the route's name in `"routerkit_route"`) and in
    the route run's metadata.

    Example:
        >>> routes = {"gpt-4-1106-preview": big, "mixtral-8x7b-instruct-v0.1": small}  # doctest: +SKIP
        >>> model = ChatRouterkit(router="mf", routes=routes)  # doctest: +SKIP
        >>> model.invoke("Prove that sqrt(2) is irrational.").response_metadata["routerkit_route"]  # doctest: +SKIP
        'gpt-4-1106-preview'

    Force a route for one call with `config={"configurable": {"route": "<name>"}}`.

    Args:
        router: a `routerkit.Router`, or a name for `routerkit.load` (e.g. `"mf"`).
        routes: the router's model names → LangChain chat models (plain models, not `with_retry` wrappers).
        policy: how scores become a choice (default: the router's own).
        threshold: shorthand for `policy=routerkit.Threshold(threshold)`; make it configurable per call
            with `configurable_fields(threshold=ConfigurableField(id=...))`.
        default_route: stands in when the chosen route cannot serve a call (tools or structured output
            bound, the route lacks them). Default: the router's first model (the strong one).
        on_unavailable: `"fallback"` to use `default_route` then, `"error"` to raise.
        temperature, max_tokens, stop: when set, passed to the chosen route on every call.
        streaming: ask the chosen route to stream even inside `invoke`, so token callbacks fire.

    Raises:
        ConfigError: at construction, for a router that is not a router or name, a policy that is not a
            `routerkit.Policy`, routes that are not chat models, a router model with no route, or
            settings that belong on the routes (`cache`, `timeout`, `api_key`, ...).
        UnknownNameError: at construction, for a router name that is not registered or a
            `default_route` that is not a route.
    """

    router: Router = Field(exclude=True)
    routes: dict[str, BaseChatModel]
    policy: Policy | None = None
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    default_route: str | None = None
    on_unavailable: Literal["error", "fallback"] = "fallback"
    temperature: float | None = None
    max_tokens: int | None = None
    stop: list[str] | None = None
    streaming: bool = False

    model_config = ConfigDict(extra="forbid")

    def __init__(self, **data: Any) -> None:
        check_known_parameters(type(self).__name__, data, type(self).model_fields)
        check_route_level_settings(type(self).__name__, data)
        data["routes"] = check_routes(data.get("routes"), check_router_and_policy(data))
        super().__init__(**data)
        if self.default_route is not None:
            pick_route(self.routes, self.default_route)  # an unknown name raises, listing the routes
        effective_policy(self.policy, self.threshold)

    # --- what LangChain asks of every chat model ---

    @property
    def _llm_type(self) -> str:
        return "routerkit"

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        model = kwargs.get("model")
        params = LangSmithParams(
            ls_provider="routerkit",
            ls_model_name=model if isinstance(model, str) else f"routerkit/{self.router.name}",
            ls_model_type="chat",
        )
        if self.temperature is not None:
            params["ls_temperature"] = self.temperature
        if self.max_tokens is not None:
            params["ls_max_tokens"] = self.max_tokens
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    def _resolve_model_profile(self) -> ModelProfile | None:
        """What every route can do (see `intersect_profiles`); `create_agent` reads it as `profile`."""
        return intersect_profiles(route.profile for route in self.routes.values())

    @property
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        """Adds `route`: `config={"configurable": {"route": name}}` skips the router for that call."""
        return [*super().config_specs, _calls.ROUTE_SPEC]

    # --- routed calls ---

    def invoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        """Route `input`, then return the chosen route's answer tagged with the decision."""
        config = ensure_config(config)
        messages = to_messages(input)
        deferred = pop_deferred(kwargs)
        run = _runs.start(self, config, messages)
        try:
            target = _calls.target(self, config, messages)
            call = _calls.prepare(self, target, deferred, config, run.get_child(), stop, kwargs)
            output = tag(call.runnable.invoke(messages, call.config, **call.kwargs), call.choice)
        except BaseException as exc:
            run.on_chain_error(exc)
            raise
        run.on_chain_end(output)
        return cast("AIMessage", output)  # a parsed object when `with_structured_output` bound a schema

    async def ainvoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        """Async `invoke`: the router scores in a worker thread, the route answers with `ainvoke`."""
        config = ensure_config(config)
        messages = to_messages(input)
        deferred = pop_deferred(kwargs)
        run = await _runs.astart(self, config, messages)
        try:
            target = await _calls.atarget(self, config, messages)
            call = _calls.prepare(self, target, deferred, config, run.get_child(), stop, kwargs)
            output = tag(await call.runnable.ainvoke(messages, call.config, **call.kwargs), call.choice)
        except BaseException as exc:
            await run.on_chain_error(exc)
            raise
        await run.on_chain_end(output)
        return cast("AIMessage", output)

    def stream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        """Route `input`, then stream the chosen route's chunks; the first carries the decision."""
        config = ensure_config(config)
        messages = to_messages(input)
        deferred = pop_deferred(kwargs)
        run = _runs.start(self, config, messages)
        final: Any = None
        try:
            target = _calls.target(self, config, messages)
            call = _calls.prepare(self, target, deferred, config, run.get_child(), stop, kwargs)
            for chunk in call.runnable.stream(messages, call.config, **call.kwargs):
                chunk = tag(chunk, call.choice) if final is None else chunk
                final = _calls.add(final, chunk)
                yield chunk
        except BaseException as exc:
            run.on_chain_error(exc)
            raise
        run.on_chain_end(final)

    async def astream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        """Async `stream`."""
        config = ensure_config(config)
        messages = to_messages(input)
        deferred = pop_deferred(kwargs)
        run = await _runs.astart(self, config, messages)
        final: Any = None
        try:
            target = await _calls.atarget(self, config, messages)
            call = _calls.prepare(self, target, deferred, config, run.get_child(), stop, kwargs)
            async for chunk in call.runnable.astream(messages, call.config, **call.kwargs):
                chunk = tag(chunk, call.choice) if final is None else chunk
                final = _calls.add(final, chunk)
                yield chunk
        except BaseException as exc:
            await run.on_chain_error(exc)
            raise
        await run.on_chain_end(final)

    def batch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[AIMessage]:
        """Score all `inputs` in one router call, then run each route's `batch` on its share."""
        return _batch.batch(self, inputs, config, return_exceptions, kwargs)

    async def abatch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[AIMessage]:
        """Async `batch`; the routes' `abatch` calls run concurrently."""
        return await _batch.abatch(self, inputs, config, return_exceptions, kwargs)

    # --- declarative calls, replayed on the chosen route ---

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind `tools` to whichever route answers: each call replays `route.bind_tools(tools, ...)`.

        Tools are kept unconverted (conversion is provider-specific). A chosen route that cannot call
        tools gives way to `default_route` (see `on_unavailable`).

        Raises:
            ConfigError: if no route can call tools.
        """
        spec = ToolsSpec(tuple(tools), tool_choice, kwargs)
        self._require_some_route(spec)
        return self.bind(**{TOOLS_KEY: spec})

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Route first, then call `route.with_structured_output(schema, include_raw=..., **kwargs)`.

        Provider-native modes (`method="json_schema"`, `strict=True`) are kept. With `include_raw=True`
        the decision is in `result["raw"].response_metadata`.

        Raises:
            ConfigError: if no route can produce structured output.
        """
        spec = StructuredOutputSpec(schema, include_raw, kwargs)
        self._require_some_route(spec)
        is_model = isinstance(schema, type) and issubclass(schema, BaseModel) and not include_raw
        output_type: Any = schema if is_model else dict
        bound = self.bind(**{STRUCTURED_KEY: spec}).with_types(output_type=output_type)
        # `bind` is typed for message output; with the spec bound, the route's parser decides the output.
        return cast("Runnable[LanguageModelInput, dict[str, Any] | BaseModel]", bound)

    def _require_some_route(self, spec: Deferred) -> None:
        if not any(spec.supported_by(route) for route in self.routes.values()):
            kinds = sorted({type(route).__name__ for route in self.routes.values()})
            raise ConfigError(f"No route of this ChatRouterkit can {spec.need} (routes are {kinds!r}).")
