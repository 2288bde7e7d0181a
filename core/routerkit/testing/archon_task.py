"""A synthetic task for architecture search whose best pipeline is known: sums answered by scripted models.

    from routerkit.testing.archon_task import archon_task

    task = archon_task()
    space, objective = task.space(), task.objective()   # the objective runs real pipelines, instantly
    best = max((objective.evaluate(space, p) for p in space.points()), key=lambda e: e.value)

Each dev prompt asks for several sums at once ("Add each pair: 12 + 34; 56 + 78; ..."), the reference
lists them, and the score is the share of sums answered right, so a config's score averages over many
items at the cost of few calls. Every model is a `ScriptedClient` whose answer is a deterministic
(hash-based) function of the call, so the value of each config is computed by running it, and the best
config of the space by running them all. What the models do:

- a generator gets each sum right with its own `accuracy` (the best model listed first) and otherwise
  slips by 1 or 10; each sample of the same prompt is a fresh draw;
- a fuser majority-votes each sum over the responses it is shown (a sum its critique calls wrong counts
  a quarter; ties go to the earlier response) and slips with a chance that grows as the vote gets
  closer (`fuser_slip` for an even split, 0 when unanimous), so a layer of fusers that agree makes the
  final fuser more reliable;
- the judge model ranks responses by how many sums it believes right, writes critiques naming the sums
  it believes wrong, and verifies a response when it believes at least 3/4 of its sums; it is right
  about each sum with probability `judge_skill`;
- every call has a price (a fixed token count per call, per-model prices) and the objective charges
  `cost_weight` per USD per query, so more calls are not always better: the best config lies inside the
  space, not at its largest corner.

Each evaluated config gets fresh clients (`ArchonTask.clients` is a factory), so the k-th sample of a
prompt is the same draw in every run.
"""

from __future__ import annotations

import functools
import hashlib
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from routerkit.clients.base import ChatMessages, Usage
from routerkit.compose.prompts import ComponentPrompt, read_prompt
from routerkit.compose.search_objective import Objective
from routerkit.compose.search_space import SearchSpace
from routerkit.testing.clients import ScriptedClient

__all__ = ["CALL_USAGE", "ArchonTask", "SyntheticModel", "archon_task", "share_correct"]

CALL_USAGE = Usage(input_tokens=500, output_tokens=100)
"""What every synthetic call reports, so a call's cost is its model's fixed price."""
_NUMBER = re.compile(r"-?\d+")
_PAIR = re.compile(r"(\d+) \+ (\d+)")
_SLIPS = (-10, -1, 1, 10)
_FLAGGED_WEIGHT = 0.25
_VERIFY_SHARE = 0.75


@dataclass(frozen=True)
class SyntheticModel:
    """One scripted model: its skill in each role and its prices."""

    name: str
    accuracy: float = 0.5
    """As a generator: the chance of getting one sum right in one sample."""
    fuser_slip: float = 0.4
    """As a fuser: the chance of slipping on a sum whose vote is split evenly (0 when unanimous)."""
    judge_skill: float = 0.8
    """As ranker, critic or verifier: the chance of judging one sum right."""
    prices: tuple[float, float] = (1.0, 4.0)
    """USD per million input and output tokens."""

    @property
    def call_cost(self) -> float:
        """USD of one call (every call reports `CALL_USAGE`)."""
        tokens_in, tokens_out = CALL_USAGE.input_tokens or 0, CALL_USAGE.output_tokens or 0
        return (tokens_in * self.prices[0] + tokens_out * self.prices[1]) / 1e6


@dataclass(frozen=True)
class ArchonTask:
    """The dev set, the models and the search space of the synthetic task."""

    dev_set: tuple[tuple[str, str], ...]
    """`(prompt, reference)` pairs: `("Add each pair: 12 + 34; 50 + 7.", "46, 57")`."""
    generators: tuple[SyntheticModel, ...]
    """Best first."""
    fusers: tuple[SyntheticModel, ...]
    """Best first."""
    judge: SyntheticModel
    """Ranker, critic and verifier."""
    cost_weight: float
    """Value lost per USD per query."""
    space_axes: Mapping[str, tuple[int, ...] | tuple[bool, ...]] = field(default_factory=dict)
    """The searched values of the axes other than `generators`."""

    def clients(self) -> dict[str, ScriptedClient]:
        """Fresh scripted clients for every model (new draw counters: call it once per evaluated config)."""
        return {model.name: _client(model) for model in (*self.generators, *self.fusers, self.judge)}

    def space(self, **overrides: object) -> SearchSpace:
        """The task's search space; keyword arguments replace `SearchSpace` fields."""
        fields: dict[str, object] = {
            "generators": tuple(m.name for m in self.generators),
            "fuser_models": tuple(m.name for m in self.fusers),
            "critic_model": self.judge.name,
            "ranker_model": self.judge.name,
            "verifier_model": self.judge.name,
            "name": "sums",
            **self.space_axes,
            **overrides,
        }
        return SearchSpace(**fields)  # type: ignore[arg-type]  # SearchSpace checks every field

    def objective(self, **overrides: object) -> Objective[str]:
        """An `Objective` over the dev set, scored by `share_correct`, with the task's `cost_weight`;
        keyword arguments go to `Objective`."""
        options: dict[str, object] = {"cost_weight": self.cost_weight, **overrides}
        return Objective(self.clients, self.dev_set, share_correct, **options)  # type: ignore[arg-type]


def share_correct(answer: str, reference: str) -> float:
    """The share of the reference's numbers that `answer` gives in the same place."""
    expected, given = _NUMBER.findall(reference), _NUMBER.findall(answer)
    if not expected:
        return 0.0
    matches: int = sum(a == b for a, b in zip(expected, given, strict=False))
    return matches / len(expected)


def archon_task(n_prompts: int = 12, sums_per_prompt: int = 8, seed: int = 0) -> ArchonTask:
    """The synthetic task with its default models, prices and space (see the module docstring)."""
    rng = random.Random(seed)
    dev_set = []
    for _ in range(n_prompts):
        pairs = [(rng.randint(10, 99), rng.randint(10, 99)) for _ in range(sums_per_prompt)]
        prompt = "Add each pair: " + "; ".join(f"{a} + {b}" for a, b in pairs) + "."
        dev_set.append((prompt, ", ".join(str(a + b) for a, b in pairs)))
    generators = (
        SyntheticModel("gen-large", accuracy=0.6, prices=(2.5, 10.0)),
        SyntheticModel("gen-medium", accuracy=0.5, prices=(0.6, 2.4)),
        SyntheticModel("gen-small", accuracy=0.45, prices=(0.15, 0.6)),
        SyntheticModel("gen-tiny", accuracy=0.4, prices=(0.05, 0.2)),
    )
    fusers = (
        SyntheticModel("fuser-large", fuser_slip=0.1, prices=(2.5, 10.0)),
        SyntheticModel("fuser-small", fuser_slip=0.3, prices=(0.15, 0.6)),
    )
    judge = SyntheticModel("judge", judge_skill=0.75, prices=(0.6, 2.4))
    axes: dict[str, tuple[int, ...] | tuple[bool, ...]] = {
        "samples": (1, 2, 3),
        "fusion_layers": (0, 1, 2),
        "fusers_per_layer": (2, 4),
        "ranker_top_k": (3,),
    }
    return ArchonTask(tuple(dev_set), generators, fusers, judge, cost_weight=5.0, space_axes=axes)


# --- the scripted models ----------------------------------------------------------------------------


def _client(model: SyntheticModel) -> ScriptedClient:
    draws: dict[str, int] = {}

    def answer(messages: ChatMessages) -> str:
        # The k-th identical call is the k-th sample: a fresh draw, and the same draw in every run.
        key = "\x1e".join(f"{m.get('role')}\x1f{m.get('content')}" for m in messages)
        draw = draws[key] = draws.get(key, -1) + 1
        prompt = read_prompt(messages)
        if prompt.component is None:
            return _generate(model, prompt.query, draw)
        if prompt.component == "fuser":
            return _fuse(model, prompt, draw)
        if prompt.component == "ranker":
            return _rank(model, prompt)
        if prompt.component == "critic":
            return _critique(model, prompt)
        if prompt.component == "verifier":
            return _verify(model, prompt)
        return "I only add numbers."

    return ScriptedClient(model.name, answer, usage=CALL_USAGE, prices=model.prices)


def _unit(*parts: object) -> float:
    """A uniform draw in [0, 1) from the parts (stable across runs and machines)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _truths(query: str) -> list[int]:
    return [int(a) + int(b) for a, b in _PAIR.findall(query)]


def _slip(value: int, *parts: object) -> int:
    return value + _SLIPS[int(_unit("slip", *parts) * len(_SLIPS))]


def _numbers(text: str) -> list[int]:
    return [int(number) for number in _NUMBER.findall(text)]


def _sums(values: list[int]) -> str:
    return "Sums: " + ", ".join(map(str, values)) + "."


@functools.lru_cache(maxsize=1 << 16)  # pure; the same calls recur in every config that shares a layer
def _generate(model: SyntheticModel, query: str, draw: int) -> str:
    values = []
    for item, truth in enumerate(_truths(query)):
        right = _unit("generate", model.name, query, draw, item) < model.accuracy
        values.append(truth if right else _slip(truth, model.name, query, draw, item))
    return _sums(values) if values else "I only add numbers."


@functools.lru_cache(maxsize=1 << 16)
def _believed(model: SyntheticModel, query: str, response: str) -> tuple[bool, ...]:
    """Per sum of the query: whether the judge believes `response` got it right (right about it with
    probability `judge_skill`)."""
    given = _numbers(response)
    beliefs = []
    for item, truth in enumerate(_truths(query)):
        right = item < len(given) and given[item] == truth
        judged_well = _unit("judge", model.name, query, item, given[item] if item < len(given) else None)
        beliefs.append(right if judged_well < model.judge_skill else not right)
    return tuple(beliefs)


def _fuse(model: SyntheticModel, prompt: ComponentPrompt, draw: int) -> str:
    critiques = tuple(prompt.critiques.get(number, "") for number in range(1, len(prompt.responses) + 1))
    return _fused(model, prompt.query, prompt.responses, critiques, draw)


@functools.lru_cache(maxsize=1 << 16)
def _fused(model: SyntheticModel, query: str, texts: tuple[str, ...], critiques: tuple[str, ...], draw: int) -> str:
    responses = [_numbers(text) for text in texts]
    flagged = [_flagged(critique) for critique in critiques]
    values = []
    for item in range(len(_truths(query))):
        votes: dict[int, float] = {}  # insertion order: ties go to the earlier response
        for response, wrong in zip(responses, flagged, strict=True):
            if item < len(response):
                weight = _FLAGGED_WEIGHT if item + 1 in wrong else 1.0
                votes[response[item]] = votes.get(response[item], 0.0) + weight
        if not votes:
            return "No response gave the sums."
        winner = max(votes, key=lambda value: votes[value])
        slip_chance = model.fuser_slip * 2 * (1 - votes[winner] / sum(votes.values()))
        parts = (model.name, query, texts, draw, item)
        values.append(_slip(winner, *parts) if _unit("fuse", *parts) < slip_chance else winner)
    return _sums(values)


def _flagged(critique: str) -> set[int]:
    """The sums (1-based) a critique calls wrong: `Weaknesses: sums 2, 5 look wrong.`"""
    _, _, weaknesses = critique.partition("Weaknesses:")
    return set(_numbers(weaknesses))


def _rank(model: SyntheticModel, prompt: ComponentPrompt) -> str:
    believed = [sum(_believed(model, prompt.query, text)) for text in prompt.responses]
    order = sorted(range(1, len(believed) + 1), key=lambda number: (-believed[number - 1], number))
    return " > ".join(f"[{number}]" for number in order)


def _critique(model: SyntheticModel, prompt: ComponentPrompt) -> str:
    blocks = []
    for number, text in enumerate(prompt.responses, start=1):
        wrong = [str(item) for item, right in enumerate(_believed(model, prompt.query, text), start=1) if not right]
        weakness = f"sums {', '.join(wrong)} look wrong." if wrong else "none found."
        blocks.append(f"[{number}] Strengths: gives every sum. Weaknesses: {weakness}")
    return "\n".join(blocks)


def _verify(model: SyntheticModel, prompt: ComponentPrompt) -> str:
    beliefs = _believed(model, prompt.query, prompt.responses[0] if prompt.responses else "")
    passed = bool(beliefs) and sum(beliefs) >= _VERIFY_SHARE * len(beliefs)
    return "I added the pairs again.\n" + ("[Correct]" if passed else "[Incorrect]")
