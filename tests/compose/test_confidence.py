"""Confidence estimators (router, self-verification, log-probabilities) and the deferral policy."""

from __future__ import annotations

import math

import pytest
from routerkit.clients.base import Completion
from routerkit.compose.budget import Budget, UsageLedger
from routerkit.compose.confidence import (
    ConfidenceEstimator,
    LogprobConfidence,
    RouterConfidence,
    SelfVerifyConfidence,
    parse_verdict,
)
from routerkit.compose.deferral import DeferralPolicy
from routerkit.errors import BudgetExceededError, ConfigError
from routerkit.routers.baselines import LengthRouter
from routerkit.testing import ScriptedClient

QUESTION = [{"role": "user", "content": "What is 2 + 2?"}]
ANSWER = Completion(text="4", model="weak")


def test_the_built_in_estimators_are_confidence_estimators() -> None:
    for estimator in (RouterConfidence(LengthRouter()), SelfVerifyConfidence(), LogprobConfidence()):
        assert isinstance(estimator, ConfidenceEstimator)


# -- RouterConfidence --------------------------------------------------------------------------------


def test_router_confidence_is_one_minus_the_strong_win_rate() -> None:
    router = LengthRouter(scale=10.0)  # P(strong) = chars / (chars + 10)
    estimator = RouterConfidence(router)
    chars = len(QUESTION[0]["content"])
    assert estimator.confidence(QUESTION, None, UsageLedger()) == pytest.approx(1 - chars / (chars + 10))
    assert estimator.needs_answer is False


@pytest.mark.asyncio
async def test_router_confidence_async_twin_matches() -> None:
    estimator = RouterConfidence(LengthRouter())
    assert await estimator.aconfidence(QUESTION, None, UsageLedger()) == estimator.confidence(
        QUESTION, None, UsageLedger()
    )


def test_router_confidence_refuses_a_many_model_router() -> None:
    class ManyModels:
        pairwise = False

    with pytest.raises(ConfigError, match="strong/weak router"):
        RouterConfidence(ManyModels())  # type: ignore[arg-type]


# -- SelfVerifyConfidence ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        pytest.param("P: 0.83", 0.83, id="labelled"),
        pytest.param("Probability = 70%", 0.7, id="labelled-percent"),
        pytest.param("**Confidence:** 0.4", 0.4, id="markdown-label"),
        pytest.param("I'd say 9/10.", 0.9, id="fraction"),
        pytest.param("Fairly sure: 0.65, given step 2.", 0.65, id="bare-number"),
        pytest.param("About 90% likely.", 0.9, id="bare-percent"),
        pytest.param("It scores 3 of 7 steps, overall 0.2", 0.2, id="skips-non-probabilities"),
        pytest.param("Step 1 is fine but step 2 is not.", None, id="bare-integers-are-not-read"),
        pytest.param(" 1 ", 1.0, id="just-one"),
        pytest.param("0.", 0.0, id="just-zero"),
        pytest.param("Yes, the answer is right.", 1.0, id="yes"),
        pytest.param("Correct.", 1.0, id="correct"),
        pytest.param("No - it forgot the carry.", 0.0, id="no"),
        pytest.param("Incorrect", 0.0, id="incorrect"),
        pytest.param("I cannot tell.", None, id="unreadable"),
        pytest.param("P: 1.7", None, id="labelled-out-of-range"),
    ],
)
def test_parse_verdict(reply: str, expected: float | None) -> None:
    assert parse_verdict(reply) == (None if expected is None else pytest.approx(expected))


def test_self_verify_asks_one_call_through_the_ledger() -> None:
    verifier = ScriptedClient("verifier", ["P: 0.9"])
    ledger = UsageLedger()
    confidence = SelfVerifyConfidence(verifier, options={"temperature": 0}).confidence(QUESTION, ANSWER, ledger)
    assert confidence == pytest.approx(0.9)
    assert ledger.by_model["verifier"].calls == 1
    (call,) = verifier.calls
    assert "What is 2 + 2?" in call.messages[0]["content"] and "Proposed answer:\n4" in call.messages[0]["content"]
    assert call.options == {"temperature": 0}


def test_an_unreadable_verdict_defers_and_is_recorded() -> None:
    estimator = SelfVerifyConfidence(ScriptedClient("verifier", ["Hard to say."]))
    assert estimator.confidence(QUESTION, ANSWER, UsageLedger()) == 0.0
    assert (estimator.parse_failures, estimator.last_unparsed) == (1, "Hard to say.")


@pytest.mark.asyncio
async def test_self_verify_async_twin_uses_acomplete() -> None:
    verifier = ScriptedClient("verifier", ["yes"])
    assert await SelfVerifyConfidence(verifier).aconfidence(QUESTION, ANSWER, UsageLedger()) == 1.0
    assert [call.method for call in verifier.calls] == ["acomplete"]


def test_self_verify_respects_the_budget() -> None:
    verifier = ScriptedClient("verifier", ["P: 1"])
    with pytest.raises(BudgetExceededError):
        SelfVerifyConfidence(verifier).confidence(QUESTION, ANSWER, UsageLedger(Budget(max_calls=0)))
    assert verifier.calls == []


def test_self_verify_without_a_client_says_how_to_give_one() -> None:
    with pytest.raises(ConfigError, match="pass `client=`"):
        SelfVerifyConfidence().confidence(QUESTION, ANSWER, UsageLedger())


def test_self_verify_prompt_needs_its_placeholders() -> None:
    with pytest.raises(ConfigError, match=r"\{answer\}"):
        SelfVerifyConfidence(prompt="Is this right? {question}")


# -- LogprobConfidence -------------------------------------------------------------------------------


def test_logprob_confidence_is_the_geometric_mean_probability() -> None:
    completion = Completion(text="4 .", model="weak", logprobs=(-0.1, -0.5))
    assert LogprobConfidence().confidence(QUESTION, completion, UsageLedger()) == pytest.approx(math.exp(-0.3))
    assert LogprobConfidence("min").confidence(QUESTION, completion, UsageLedger()) == pytest.approx(math.exp(-0.5))


@pytest.mark.asyncio
async def test_logprob_confidence_from_a_scripted_client() -> None:
    weak = ScriptedClient("weak", ["4"], logprobs=(-0.2,))
    completion = await weak.acomplete(QUESTION)
    assert await LogprobConfidence().aconfidence(QUESTION, completion, UsageLedger()) == pytest.approx(math.exp(-0.2))


def test_logprob_confidence_without_logprobs_says_to_request_them() -> None:
    completion = ScriptedClient("weak", ["4"]).complete(QUESTION)
    with pytest.raises(ConfigError, match=r"carries no token log-probabilities.*'logprobs': True"):
        LogprobConfidence().confidence(QUESTION, completion, UsageLedger())


def test_logprob_confidence_refuses_an_unknown_reduction() -> None:
    with pytest.raises(ConfigError, match="'mean' or 'min'"):
        LogprobConfidence("median")  # type: ignore[arg-type]


# -- DeferralPolicy ----------------------------------------------------------------------------------


def test_a_fixed_threshold_defers_strictly_below() -> None:
    policy = DeferralPolicy.fixed(0.6)
    assert (policy.defer(0.59), policy.defer(0.6), policy.defer(0.9)) == (True, False, False)
    assert not DeferralPolicy.fixed(0.0).defer(0.0)


@pytest.mark.parametrize("threshold", [-0.1, 1.5, float("nan"), True], ids=["negative", "above-one", "nan", "bool"])
def test_a_threshold_outside_zero_one_is_refused(threshold: float) -> None:
    with pytest.raises(ConfigError, match="threshold"):
        DeferralPolicy.fixed(threshold)


@pytest.mark.parametrize(
    ("target", "expected_rate"),
    [
        pytest.param(0.0, 0.0, id="none"),
        pytest.param(0.3, 0.3, id="exact"),
        pytest.param(0.35, 0.3, id="below-target"),
        pytest.param(1.0, 1.0, id="all"),
    ],
)
def test_calibration_hits_the_closest_rate_not_above_the_target(target: float, expected_rate: float) -> None:
    confidences = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    policy = DeferralPolicy.calibrate(confidences, target)
    achieved = sum(policy.defer(c) for c in confidences) / len(confidences)
    assert achieved == pytest.approx(expected_rate) == pytest.approx(policy.calibrated_rate)
    assert (policy.target_rate, policy.calibration_size) == (target, 10)


def test_calibration_puts_the_threshold_halfway_between_neighbours() -> None:
    assert DeferralPolicy.calibrate([0.2, 0.4, 0.6, 0.8], 0.5).threshold == pytest.approx(0.5)


def test_calibration_keeps_ties_together() -> None:
    confidences = [0.1, 0.5, 0.5, 0.5, 0.9]
    policy = DeferralPolicy.calibrate(confidences, 0.4)  # 2 of 5 would split the 0.5s: only 1 of 5 can be hit
    assert policy.calibrated_rate == pytest.approx(0.2)
    assert [policy.defer(c) for c in confidences] == [True, False, False, False, False]


def test_calibration_cannot_defer_a_confidence_of_one() -> None:
    policy = DeferralPolicy.calibrate([0.2, 1.0], 1.0)  # λ <= 1 cannot put 1.0 below it
    assert policy.calibrated_rate == pytest.approx(0.5)
    assert policy.defer(0.2) and not policy.defer(1.0)


@pytest.mark.parametrize(
    ("confidences", "target", "match"),
    [
        pytest.param([], 0.3, "empty", id="empty"),
        pytest.param([0.2, float("nan")], 0.3, r"confidences\[1\]", id="nan"),
        pytest.param([0.2, 1.2], 0.3, r"confidences\[1\]", id="above-one"),
        pytest.param([0.2, 0.4], 1.5, "target_rate", id="rate-above-one"),
        pytest.param([0.2, 0.4], -0.1, "target_rate", id="negative-rate"),
        pytest.param([0.2, 0.4], float("nan"), "target_rate", id="nan-rate"),
    ],
)
def test_calibration_refuses_bad_input(confidences: list[float], target: float, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        DeferralPolicy.calibrate(confidences, target)
