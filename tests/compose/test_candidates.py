"""Candidates and states are immutable; annotations belong to a candidate, not to a position."""

from __future__ import annotations

import dataclasses

import pytest
from routerkit.compose.candidates import Candidate, State


def _candidate(number: int) -> Candidate:
    return Candidate(id=f"L0.0.m#{number}", text=f"answer {number}", model="m", operator="L0.0", layer=0)


def test_annotate_returns_a_new_candidate_and_keeps_the_old_one() -> None:
    first = _candidate(1)
    critiqued = first.annotate(critique="too short", score=0.4)
    assert dict(critiqued.annotations) == {"critique": "too short", "score": 0.4}
    assert dict(first.annotations) == {}
    with pytest.raises(TypeError):
        critiqued.annotations["score"] = 1.0  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        critiqued.text = "changed"  # type: ignore[misc]


def test_a_caller_dict_cannot_change_a_candidate_later() -> None:
    notes: dict[str, object] = {"score": 1.0}
    candidate = Candidate(id="x", text="t", model=None, operator="o", layer=0, annotations=notes)
    notes["score"] = 0.0
    assert candidate.annotations["score"] == 1.0


def test_state_start_query_usable_and_find() -> None:
    state = State.start([{"role": "system", "content": "be brief"}, {"role": "user", "content": "2+2?"}])
    assert state.query == "2+2?"
    failed = dataclasses.replace(_candidate(2), status="error", error="timeout")
    state = state.with_candidates([_candidate(1), failed]).with_unit_tests(["assert f() == 4"])
    assert [c.id for c in state.usable] == ["L0.0.m#1"]
    assert state.find("L0.0.m#2").error == "timeout"
    assert State.start("hello").messages[0] == {"role": "user", "content": "hello"}
    with pytest.raises(KeyError):
        state.find("missing")
