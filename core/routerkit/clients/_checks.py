"""Checks of `OpenAIClient`'s arguments, and its API key (given, or read from a named variable)."""

from __future__ import annotations

from routerkit._env import named_variable
from routerkit.errors import ConfigError

__all__ = ["auth_headers", "check_arguments", "check_prices"]


def check_arguments(
    name: str, base_url: str, timeout_s: float, connect_timeout_s: float, max_retries: int, backoff_s: float
) -> None:
    """Refuse an empty name, a URL that is not http(s), non-positive timeouts and negative retry settings."""
    if not name:
        raise ConfigError("`OpenAIClient` needs a non-empty `name`: the model's name, e.g. 'gpt-4o-mini'.")
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"`base_url` must be an http(s) URL, got {base_url!r}. Pass the API root, e.g. 'https://api.openai.com/v1'."
        )
    for label, value in (("timeout_s", timeout_s), ("connect_timeout_s", connect_timeout_s)):
        if not value > 0:
            raise ConfigError(f"`{label}` must be a positive number of seconds, got {value!r}.")
    if max_retries < 0 or backoff_s < 0:
        raise ConfigError(f"`max_retries` and `backoff_s` must be >= 0, got {max_retries!r} and {backoff_s!r}.")


def check_prices(*prices: float | None) -> None:
    """Refuse negative prices (None, unknown, is fine)."""
    for price in prices:
        if price is not None and not price >= 0:
            raise ConfigError(f"Prices (USD per million tokens) must be >= 0, got {price!r}. Pass None if unknown.")


def auth_headers(api_key: str | None, api_key_env: str | None) -> dict[str, str]:
    """The `Authorization` header for `api_key`, or for the key in the variable `api_key_env`; none without a key."""
    if api_key is not None and api_key_env is not None:
        raise ConfigError("Pass either `api_key` or `api_key_env`, not both.")
    if api_key_env is not None:
        api_key = named_variable(api_key_env)
        if api_key is None:
            raise ConfigError(
                f"The environment variable {api_key_env!r} (`api_key_env`) is not set or empty. "
                "Set it to the API key, or pass `api_key=`."
            )
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}
