"""`ServerConfig`: the server's YAML/JSON configuration, validated strictly (an unknown key is an error)."""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from routerkit.errors import ConfigError, MissingDependencyError

__all__ = [
    "AuthConfig",
    "LimitsConfig",
    "ModelConfig",
    "Price",
    "RouteConfig",
    "RouterConfig",
    "ServerConfig",
    "load_config",
]

ROUTER_NAME = r"^[a-z0-9_]+$"
"""Router names have no `-`, so `router-<router>-<threshold>` parses unambiguously."""

RouterName = Annotated[str, StringConstraints(pattern=ROUTER_NAME)]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Price(_Strict):
    """A model's price, used for the cost metric (from the upstream's reported `usage`)."""

    input_usd_per_mtok: float = Field(ge=0.0)
    """USD per million prompt tokens."""
    output_usd_per_mtok: float = Field(ge=0.0)
    """USD per million completion tokens."""


class ModelConfig(_Strict):
    """One upstream OpenAI-compatible endpoint."""

    base_url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
    """The endpoint's base URL, ending before `/chat/completions` (e.g. `http://127.0.0.1:9001/v1`)."""
    model: str = Field(min_length=1)
    """The model id sent upstream in the request's `model` field."""
    api_key_env: str | None = None
    """Name of the environment variable holding the upstream's API key (never the key itself)."""
    timeout_s: float = Field(default=60.0, gt=0.0)
    """Whole-call deadline of a non-streaming call; for a streaming call, the longest wait for a chunk."""
    connect_timeout_s: float = Field(default=5.0, gt=0.0)
    """Deadline for opening the connection."""
    max_retries: int = Field(default=1, ge=0)
    """Retries on this model after a failure, before falling back to the next candidate."""
    price: Price | None = None
    """Prices for the `routerkit_cost_usd_total` metric; no price, no cost."""


class RouterConfig(_Strict):
    """A routerkit router, loaded at startup with `routerkit.load(load, **options)`."""

    load: str = Field(min_length=1)
    """The name given to `routerkit.load` (e.g. `mf`, `length`)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments for `routerkit.load` (e.g. `strong=` / `weak=`)."""
    models: dict[str, str] = Field(min_length=1)
    """Each of the router's candidate models → a key of the top-level `models`."""
    threshold: Unit | None = None
    """Default `Threshold` policy (strong/weak routers only); None keeps the router's own default."""


class RouteConfig(_Strict):
    """A named route: a router and, optionally, a threshold."""

    router: str
    """A key of `routers`."""
    threshold: Unit | None = None
    """Threshold for this route; None uses the router's default policy."""


class AuthConfig(_Strict):
    """Client authentication (`Authorization: Bearer <key>`)."""

    api_keys_env: str | None = None
    """Name of the environment variable holding the comma-separated client keys; None: no auth."""


class LimitsConfig(_Strict):
    """Request limits."""

    max_body_bytes: int = Field(default=1_048_576, gt=0)
    """Largest accepted request body; larger ones get HTTP 413."""


class ServerConfig(_Strict):
    """The whole server configuration (see docs/server.md for a commented example)."""

    models: dict[str, ModelConfig] = Field(min_length=1)
    """Upstream endpoints by our name (the name appears in `x-routerkit-model` and in metrics)."""
    routers: dict[RouterName, RouterConfig] = Field(min_length=1)
    """Routers by our name (selectable as `model`: `<router>` or `router-<router>-<threshold>`)."""
    routes: dict[str, RouteConfig] = Field(default_factory=dict)
    """Named routes, selectable as the request's `model`."""
    auth: AuthConfig = Field(default_factory=AuthConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)

    @model_validator(mode="after")
    def _check_references(self) -> ServerConfig:
        for name, router in self.routers.items():
            for candidate, key in router.models.items():
                if key not in self.models:
                    raise ValueError(
                        f"`routers.{name}.models` maps {candidate!r} to {key!r}, which is not a key of `models` "
                        f"(keys: {_names(self.models)}). Add it under `models`, or fix the name."
                    )
        for name, route in self.routes.items():
            if route.router not in self.routers:
                raise ValueError(
                    f"`routes.{name}.router` is {route.router!r}, which is not a key of `routers` "
                    f"(keys: {_names(self.routers)})."
                )
            if name in self.routers or name.startswith("router-"):
                raise ValueError(
                    f"Route name {name!r} clashes with a router name or the `router-<router>-<threshold>` form; "
                    "rename the route."
                )
        return self


def _names(table: dict[str, Any]) -> str:
    return ", ".join(repr(k) for k in table) or "none"


def load_config(path: str | Path) -> ServerConfig:
    """Read and validate a server configuration from a YAML (or JSON) file.

    Raises:
        ConfigError: if the file is missing, unparsable, or any value is invalid; the message names the key.
        MissingDependencyError: if PyYAML (extra `server`) is not installed.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read the server config {str(file)!r}: {exc.strerror}.") from exc
    raw = _parse(file, text)
    if not isinstance(raw, dict):
        raise ConfigError(f"The server config {str(file)!r} must be a mapping at the top, got {type(raw).__name__}.")
    return parse_config(raw, source=str(file))


def parse_config(raw: dict[str, Any], *, source: str = "<config>") -> ServerConfig:
    """Validate an already-parsed configuration mapping (as `load_config` does after reading the file).

    Raises:
        ConfigError: naming each invalid or unknown key.
    """
    try:
        return ServerConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors())
        raise ConfigError(f"Invalid server config {source!r}: {problems}") from exc


def _parse(file: Path, text: str) -> object:
    if file.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"The server config {str(file)!r} is not valid JSON: {exc}.") from exc
    try:
        import yaml
    except ImportError as exc:
        raise MissingDependencyError.for_extra("Reading a YAML server config", "server", "pyyaml") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"The server config {str(file)!r} is not valid YAML: {exc}.") from exc


def _describe(error: Any) -> str:
    """One pydantic error as `key.path: message`, listing the valid keys when a key is unknown."""
    loc = [str(part) for part in error["loc"]]
    where = ".".join(loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        valid = _valid_keys(loc[:-1])
        hint = f" (valid keys here: {', '.join(valid)})" if valid else ""
        return f"unknown key `{where}`{hint}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return message if where == "(top level)" else f"`{where}`: {message}"


def _valid_keys(parent: list[str]) -> list[str]:
    """The field names of the config class found at `parent` (a path through models and dicts)."""
    node: Any = ServerConfig
    for part in parent:
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = node.model_fields.get(part)
            node = _unwrap(field.annotation) if field else None
        elif typing.get_origin(node) is dict:
            node = _unwrap(typing.get_args(node)[1])
        else:
            return []
    return list(node.model_fields) if isinstance(node, type) and issubclass(node, BaseModel) else []


def _unwrap(annotation: Any) -> Any:
    """Strip `Annotated[...]` and `X | None` to the class or `dict[...]` inside."""
    if typing.get_origin(annotation) is Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(inner[0]) if len(inner) == 1 else annotation
    return annotation
