"""The unit-test operators: `GenTests` writes tests for the request, `EvalTests` judges candidates by them.

As in Archon, the tests are judged by a model (nothing is executed). Unlike Archon, the tests live in
`State.unit_tests`: the request's messages are never modified, and each candidate's result is attached
to that candidate, so a failed judgement cannot shift the scores of the others.
"""

from __future__ import annotations

import logging

from routerkit.compose.candidates import Candidate, State
from routerkit.compose.config import OnError, UnitTestEvaluatorConfig, UnitTestGeneratorConfig
from routerkit.compose.operators import Failed, Operator, RunContext, build_component, gather_all, resolve_model
from routerkit.compose.prompts import (
    component_messages,
    parse_test_results,
    parse_unit_tests,
    unit_test_evaluator_prompt,
    unit_test_generator_prompt,
)

__all__ = ["EvalTests", "GenTests"]

logger = logging.getLogger(__name__)


class GenTests(Operator):
    """Writes `num_tests` unit tests for the request in one call (config type `unit_test_generator`).

    The tests go to `State.unit_tests` (the numbered lines of the answer, at most `num_tests`); the
    candidates pass through untouched. A failed call with `on_error="skip"` leaves no tests.
    """

    config: UnitTestGeneratorConfig

    def __init__(
        self,
        model: str | object,
        *,
        num_tests: int = 5,
        temperature: float | None = None,
        max_tokens: int | None = None,
        on_error: OnError = "skip",
    ) -> None:
        """Write tests with `model`: a name in the pipeline's `clients`, or a model object.

        Raises:
            ConfigError: if an argument is invalid (e.g. `num_tests < 1`).
        """
        name, client = resolve_model(model)
        config = build_component(
            UnitTestGeneratorConfig,
            "GenTests",
            model=name,
            num_tests=num_tests,
            temperature=temperature,
            max_tokens=max_tokens,
            on_error=on_error,
        )
        super().__init__(config, client=client)

    async def run(self, state: State, ctx: RunContext) -> State:
        """The same state, carrying the tests."""
        prompt = unit_test_generator_prompt(state.query, self.config.num_tests)
        outcome = await self._attempt(ctx, component_messages(state.messages, "unit_test_generator", prompt), self.id)
        if isinstance(outcome, Failed):
            return state
        tests = parse_unit_tests(outcome.text, self.config.num_tests)
        if len(tests) < self.config.num_tests:
            logger.info("%s: asked for %d tests, got %d", self.id, self.config.num_tests, len(tests))
        return state.with_unit_tests(tests)


class EvalTests(Operator):
    """Judges each usable candidate against `State.unit_tests` (one call each) and keeps the `top_k`
    that pass most (config type `unit_test_evaluator`).

    Each judged candidate gets `tests_passed` (an int) and `test_results` (True/False/None per test).
    Ties keep the original order; a candidate whose call failed (`on_error="skip"`) has no result and
    ranks below every judged one. With no tests to judge against, no call is made, the first `top_k`
    are kept and each says so in `tests_note`.
    """

    config: UnitTestEvaluatorConfig

    def __init__(
        self,
        model: str | object,
        *,
        top_k: int = 1,
        temperature: float | None = None,
        max_tokens: int | None = None,
        on_error: OnError = "skip",
    ) -> None:
        """Judge with `model`: a name in the pipeline's `clients`, or a model object.

        Raises:
            ConfigError: if an argument is invalid (e.g. `top_k < 1`).
        """
        name, client = resolve_model(model)
        config = build_component(
            UnitTestEvaluatorConfig,
            "EvalTests",
            model=name,
            top_k=top_k,
            temperature=temperature,
            max_tokens=max_tokens,
            on_error=on_error,
        )
        super().__init__(config, client=client)

    async def run(self, state: State, ctx: RunContext) -> State:
        """The state whose candidates are the `top_k` that pass most tests, most first."""
        if not state.unit_tests:
            logger.warning(
                "%s: there are no unit tests to judge against; the first %d are kept", self.id, self.config.top_k
            )
            note = "no unit tests to judge against; kept in the original order"
            return state.with_candidates([c.annotate(tests_note=note) for c in state.usable[: self.config.top_k]])
        judged = await gather_all(self._judge(state, ctx, candidate) for candidate in state.usable)
        ranked = sorted(judged, key=lambda candidate: -_passed(candidate))  # sorted() is stable: ties keep order
        return state.with_candidates(ranked[: self.config.top_k])

    async def _judge(self, state: State, ctx: RunContext, candidate: Candidate) -> Candidate:
        prompt = unit_test_evaluator_prompt(state.query, candidate.text, state.unit_tests)
        messages = component_messages(state.messages, "unit_test_evaluator", prompt)
        outcome = await self._attempt(ctx, messages, f"{self.id}:{candidate.id}")
        if isinstance(outcome, Failed):
            return candidate
        results = parse_test_results(outcome.text, len(state.unit_tests))
        return candidate.annotate(tests_passed=sum(result is True for result in results), test_results=results)


def _passed(candidate: Candidate) -> int:
    passed = candidate.annotations.get("tests_passed")
    return passed if isinstance(passed, int) else -1
