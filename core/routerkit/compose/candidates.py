"""Candidates and the state a pipeline passes from layer to layer.

Both are immutable: an operator returns a new `State`, and a critique, score or verdict is attached to
the `Candidate` it is about (by identity, `Candidate.id`), never to a position in a list. Archon's
reference code matched critiques to candidates by index and carried old critiques forward next to new
fused candidates; here nothing is carried over implicitly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

from routerkit.clients.base import ChatMessages, Usage

__all__ = ["Candidate", "CandidateStatus", "State"]

CandidateStatus = Literal["ok", "empty", "error"]


@dataclass(frozen=True)
class Candidate:
    """One answer in a pipeline: its text, where it came from, and what later operators said of it."""

    id: str
    """Unique within a run, e.g. `"L0.generate#2:gpt-4o/1"` (layer, operator, model, sample)."""
    text: str
    model: str | None
    """The model that wrote it (None for an answer not written by a model)."""
    operator: str
    """The id of the operator that produced it."""
    layer: int
    parents: tuple[str, ...] = ()
    """The ids of the candidates it was made from (a fuser's inputs); empty for generated answers."""
    status: CandidateStatus = "ok"
    error: str | None = None
    """Why the call failed, when `status == "error"`."""
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    annotations: Mapping[str, object] = field(default_factory=dict)
    """What operators said of it, by kind: `"critique"` (str), `"score"` (float), `"verdict"` (bool),
    `"tests_passed"` (int), `"rank"` (int, 1 = best)."""

    def __post_init__(self) -> None:
        # A read-only copy, so a caller's dict cannot change a frozen candidate behind its back.
        object.__setattr__(self, "annotations", MappingProxyType(dict(self.annotations)))

    @property
    def ok(self) -> bool:
        """Whether it is a usable answer (not empty, not failed)."""
        return self.status == "ok"

    def annotate(self, **values: object) -> Candidate:
        """A copy with `values` added to (or replacing the same kinds in) its annotations."""
        return replace(self, annotations={**self.annotations, **values})


@dataclass(frozen=True)
class State:
    """What one layer hands to the next: the request, the candidates, and shared artifacts."""

    messages: tuple[Mapping[str, str], ...]
    """The request's chat messages; never modified by an operator."""
    candidates: tuple[Candidate, ...] = ()
    unit_tests: tuple[str, ...] = ()
    """Tests written by a unit-test generator, for a later evaluator."""

    @classmethod
    def start(cls, messages: ChatMessages | str) -> State:
        """The state before the first layer: the request as messages (a string is one user message)."""
        if isinstance(messages, str):
            return cls(({"role": "user", "content": messages},))
        return cls(tuple(MappingProxyType(dict(message)) for message in messages))

    @property
    def query(self) -> str:
        """The last user message's content: what the candidates answer."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return message.get("content", "")
        return ""

    @property
    def usable(self) -> tuple[Candidate, ...]:
        """The candidates that are usable answers, in order."""
        return tuple(candidate for candidate in self.candidates if candidate.ok)

    def with_candidates(self, candidates: Sequence[Candidate]) -> State:
        """A copy whose candidates are `candidates`."""
        return replace(self, candidates=tuple(candidates))

    def with_unit_tests(self, tests: Sequence[str]) -> State:
        """A copy carrying `tests` for a later unit-test evaluator."""
        return replace(self, unit_tests=tuple(tests))

    def find(self, candidate_id: str) -> Candidate:
        """The candidate with this id.

        Raises:
            KeyError: if no candidate has it.
        """
        for candidate in self.candidates:
            if candidate.id == candidate_id:
                return candidate
        raise KeyError(candidate_id)
