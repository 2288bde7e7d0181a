"""Prompt normalisation: strings, chat messages, and the errors for bad input."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from routerkit.errors import ConfigError
from routerkit.routers.inputs import prompt_text


def test_string_passes_through() -> None:
    assert prompt_text("What is 2+2?") == "What is 2+2?"


def test_last_user_turn_is_scored() -> None:
    messages = [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "answer"},
        {"role": "user", "content": "second question"},
    ]
    assert prompt_text(messages) == "second question"


def test_content_parts_and_message_objects() -> None:
    parts = [
        {"type": "text", "text": "look at"},
        {"type": "image_url", "image_url": {}},
        {"type": "text", "text": "this"},
    ]
    assert prompt_text([{"role": "user", "content": parts}]) == "look at\nthis"
    assert prompt_text([SimpleNamespace(role="user", content="from an object")]) == "from an object"


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        pytest.param("", "empty", id="empty-string"),
        pytest.param("   \n", "empty", id="whitespace"),
        pytest.param(42, "must be a string or a list", id="int"),
        pytest.param(None, "must be a string or a list", id="none"),
        pytest.param(b"bytes", "must be a string or a list", id="bytes"),
        pytest.param([], "message list is empty", id="no-messages"),
        pytest.param([{"role": "system", "content": "x"}], "No message with role 'user'", id="no-user"),
        pytest.param([{"role": "user", "content": ""}], "last user message is empty", id="empty-user"),
        pytest.param([{"role": "user", "content": 3}], "content must be a string", id="bad-content"),
    ],
)
def test_bad_prompts_raise_clear_errors(bad: object, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        prompt_text(bad)
