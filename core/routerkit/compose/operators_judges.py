"""The judging operators: `Rank` (keeps the best `top_k`), `Critique` (annotates) and `Verify` (keeps the
correct ones).

They work on the usable candidates (`State.usable`): `Rank` and `Verify` leave only candidates they
kept (failed and empty ones are dropped; they stay visible in the earlier layers' reports), `Critique`
passes every candidate through. Whatever they say is attached to the candidate it is about, through the
number it had in that one prompt, never through a position in a later list.
"""

from __future__ import annotations

import logging

from routerkit.compose.candidates import Candidate, State
from routerkit.compose.config import CriticConfig, OnError, RankerConfig, VerifierConfig
from routerkit.compose.operators import (
    Failed,
    Operator,
    RunContext,
    build_component,
    critique_of,
    gather_all,
    resolve_model,
)
from routerkit.compose.prompts import (
    component_messages,
    critic_prompt,
    parse_critiques,
    parse_ranking,
    parse_verdict,
    ranker_prompt,
    verifier_prompt,
)

__all__ = ["Critique", "Rank", "Verify"]

logger = logging.getLogger(__name__)


class Rank(Operator):
    """Orders the usable candidates in one call and keeps the best `top_k` (config type `ranker`).

    The model answers `[2] > [1] > [3]`; the parser repairs ranges, duplicates, unknown and missing ids
    (`routerkit.compose.prompts.parse_ranking`). Kept candidates get the annotation `rank` (1 = best).
    When the answer cannot be read, or the call failed with `on_error="skip"`, the original order is
    kept and each kept candidate says so in `rank_note` (as it does when ids were repaired). One usable
    candidate needs no call.
    """

    config: RankerConfig

    def __init__(
        self,
        model: str | object,
        *,
        top_k: int = 5,
        temperature: float | None = None,
        max_tokens: int | None = None,
        on_error: OnError = "skip",
    ) -> None:
        """Rank with `model`: a name in the pipeline's `clients`, or a model object.

        Raises:
            ConfigError: if an argument is invalid (e.g. `top_k < 1`).
        """
        name, client = resolve_model(model)
        config = build_component(
            RankerConfig,
            "Rank",
            model=name,
            top_k=top_k,
            temperature=temperature,
            max_tokens=max_tokens,
            on_error=on_error,
        )
        super().__init__(config, client=client)

    async def run(self, state: State, ctx: RunContext) -> State:
        """The state whose candidates are the best `top_k` usable ones, best first."""
        usable = state.usable
        order, note = await self._order(state, ctx) if len(usable) > 1 else (tuple(range(1, len(usable) + 1)), None)
        kept = [usable[number - 1] for number in order[: self.config.top_k]]
        extra = {"rank_note": note} if note else {}
        return state.with_candidates([c.annotate(rank=rank, **extra) for rank, c in enumerate(kept, start=1)])

    async def _order(self, state: State, ctx: RunContext) -> tuple[tuple[int, ...], str | None]:
        usable = state.usable
        critiques = [critique_of(candidate) for candidate in usable]
        prompt = ranker_prompt(state.query, [candidate.text for candidate in usable], critiques)
        outcome = await self._attempt(ctx, component_messages(state.messages, "ranker", prompt), self.id)
        if isinstance(outcome, Failed):
            return tuple(
                range(1, len(usable) + 1)
            ), f"the ranker's call failed ({outcome}); the original order was kept"
        ranking = parse_ranking(outcome.text, len(usable))
        if ranking.note:
            logger.info("%s: %s (answer: %r)", self.id, ranking.note, outcome.text[:200])
        return ranking.order, ranking.note


class Critique(Operator):
    """Writes the strengths and weaknesses of every usable candidate in one call (config type `critic`).

    The answer's `[n]` blocks are mapped back to the candidates' ids and stored as the annotation
    `critique`; a candidate without a block gets none (nothing shifts to a neighbour). A failed call
    with `on_error="skip"` leaves every candidate as it was. A later ranker or fuser shows each
    candidate's critique next to it.
    """

    config: CriticConfig

    def __init__(
        self,
        model: str | object,
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        on_error: OnError = "skip",
    ) -> None:
        """Critique with `model`: a name in the pipeline's `clients`, or a model object.

        Raises:
            ConfigError: if an argument is invalid.
        """
        name, client = resolve_model(model)
        config = build_component(
            CriticConfig, "Critique", model=name, temperature=temperature, max_tokens=max_tokens, on_error=on_error
        )
        super().__init__(config, client=client)

    async def run(self, state: State, ctx: RunContext) -> State:
        """The same candidates, the usable ones annotated with their `critique`."""
        usable = state.usable
        if not usable:
            return state
        prompt = critic_prompt(state.query, [candidate.text for candidate in usable])
        outcome = await self._attempt(ctx, component_messages(state.messages, "critic", prompt), self.id)
        if isinstance(outcome, Failed):
            return state
        blocks = parse_critiques(outcome.text, len(usable))
        if len(blocks) < len(usable):
            logger.info("%s: %d of %d candidates got no critique", self.id, len(usable) - len(blocks), len(usable))
        critiqued = {c.id: c.annotate(critique=blocks[n]) for n, c in enumerate(usable, start=1) if n in blocks}
        return state.with_candidates([critiqued.get(c.id, c) for c in state.candidates])


class Verify(Operator):
    """Checks each usable candidate in its own call and keeps the correct ones (config type `verifier`).

    Each checked candidate gets the annotation `verdict` (True for `[Correct]`, False for `[Incorrect]`);
    one whose call failed (`on_error="skip"`) or whose answer held no verdict gets none, and is not
    kept when others pass. When no candidate passes, all the usable ones are kept, each marked with
    `verify_note`, so the run still has an answer and the caller can see it is unverified (Archon's
    verifier silently passed them all).
    """

    config: VerifierConfig

    def __init__(
        self,
        model: str | object,
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        on_error: OnError = "skip",
    ) -> None:
        """Verify with `model`: a name in the pipeline's `clients`, or a model object.

        Raises:
            ConfigError: if an argument is invalid.
        """
        name, client = resolve_model(model)
        config = build_component(
            VerifierConfig, "Verify", model=name, temperature=temperature, max_tokens=max_tokens, on_error=on_error
        )
        super().__init__(config, client=client)

    async def run(self, state: State, ctx: RunContext) -> State:
        """The state whose candidates are the verified ones (or all usable ones, marked, if none is)."""
        checked = await gather_all(self._check(state, ctx, candidate) for candidate in state.usable)
        passed = [candidate for candidate in checked if candidate.annotations.get("verdict") is True]
        if passed or not checked:
            return state.with_candidates(passed)
        logger.warning("%s: no candidate was verified; all %d are kept", self.id, len(checked))
        note = "no candidate was verified; all were kept"
        return state.with_candidates([candidate.annotate(verify_note=note) for candidate in checked])

    async def _check(self, state: State, ctx: RunContext, candidate: Candidate) -> Candidate:
        messages = component_messages(state.messages, "verifier", verifier_prompt(state.query, candidate.text))
        outcome = await self._attempt(ctx, messages, f"{self.id}:{candidate.id}")
        verdict = None if isinstance(outcome, Failed) else parse_verdict(outcome.text)
        return candidate if verdict is None else candidate.annotate(verdict=verdict)
