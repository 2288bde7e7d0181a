"""Pipeline configs: the strict, versioned schema of an Archon-style pipeline, its construction rules,
and JSON/YAML loading.

A config is a mapping (or a JSON/YAML file) such as::

    version: 1
    name: quickstart
    seed: 0
    budget: {max_calls: 40}
    layers:
      - - {type: generator, model: gpt-4o, samples: 3, temperature: 0.7}
        - {type: generator, model: llama-70b, samples: 2}
      - - {type: critic, model: gpt-4o}
      - - {type: ranker, model: gpt-4o, top_k: 3}
      - - {type: fuser, model: gpt-4o}

Every model is `extra="forbid"`: a misspelled key is a `ConfigError` that names the key, where it is and
the keys allowed there (Archon silently ignored `length_contorl`). The construction rules
(`rule_problems`) and the worst-case call count (`worst_case_calls`) are checked at validation time, so a
config that cannot run, or could go over its `Budget.max_calls`, is refused before any call is made.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator
from typing_extensions import Self

from routerkit.compose.budget import Budget
from routerkit.errors import ConfigError, MissingDependencyError

__all__ = [
    "BudgetConfig",
    "ComponentBase",
    "ComponentConfig",
    "CriticConfig",
    "FuserConfig",
    "GeneratorConfig",
    "LayerPlan",
    "PipelineConfig",
    "RankerConfig",
    "UnitTestEvaluatorConfig",
    "UnitTestGeneratorConfig",
    "VerifierConfig",
    "check_budget",
    "load_config",
    "plan",
    "rule_problems",
    "worst_case_calls",
]

OnError = Literal["skip", "fail"]
Role = Literal["produce", "filter", "annotate", "tests"]
"""What a component does to the candidates: makes new ones, keeps some of them, annotates them all, or
leaves them alone and writes unit tests."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ComponentBase(_Strict):
    """The keys every component accepts, and what the construction rules need to know about it."""

    type: str
    """Which component: `generator`, `fuser`, `ranker`, `critic`, `verifier`, `unit_test_generator` or
    `unit_test_evaluator`."""
    model: str = Field(min_length=1)
    """A key of the `clients` mapping given to `Pipeline.from_config`."""
    on_error: OnError = "skip"
    """`skip`: a failed call leaves an `error` candidate (or no annotation) and the run goes on;
    `fail`: the `ModelCallError` stops the run."""
    temperature: float | None = Field(default=None, ge=0.0)
    """Sent to the model when set; None leaves the model's default."""
    max_tokens: int | None = Field(default=None, ge=1)
    """Sent to the model when set; None leaves the model's default."""

    role: ClassVar[Role]
    requires: ClassVar[frozenset[str]] = frozenset({"candidates"})
    """What an earlier layer must have produced: `candidates` and/or `unit_tests`."""
    produces: ClassVar[frozenset[str]] = frozenset()
    """What it adds: `candidates`, `unit_tests`, or an annotation kind (`critique`, `rank`, ...)."""
    uses: ClassVar[frozenset[str]] = frozenset()
    """Annotations it reads when present (`critique`)."""

    def max_calls(self, n_in: int) -> int:
        """The most calls it makes when `n_in` candidates flow in."""
        return 1 if n_in else 0

    def max_out(self, n_in: int) -> int:
        """The most candidates it leaves when `n_in` flow in."""
        return n_in


class GeneratorConfig(ComponentBase):
    """Answers the request `samples` times (concurrent calls); only in the first candidate-making layer."""

    type: Literal["generator"] = "generator"
    samples: int = Field(default=1, ge=1)

    role: ClassVar[Role] = "produce"
    requires: ClassVar[frozenset[str]] = frozenset()
    produces: ClassVar[frozenset[str]] = frozenset({"candidates"})

    def max_calls(self, n_in: int) -> int:
        return self.samples

    def max_out(self, n_in: int) -> int:
        return self.samples


class FuserConfig(ComponentBase):
    """Merges the usable candidates (with their critiques) into `samples` new ones (MoA's aggregator)."""

    type: Literal["fuser"] = "fuser"
    samples: int = Field(default=1, ge=1)
    max_input_chars: int = Field(default=32_000, ge=1)
    """Context guard: the candidates (and critiques) fed in are capped at this many characters; the last
    ones (the lowest-ranked, after a ranker) are dropped first and named in `dropped_inputs`."""

    role: ClassVar[Role] = "produce"
    produces: ClassVar[frozenset[str]] = frozenset({"candidates"})
    uses: ClassVar[frozenset[str]] = frozenset({"critique"})

    def max_calls(self, n_in: int) -> int:
        return self.samples if n_in else 0

    def max_out(self, n_in: int) -> int:
        return self.samples


class RankerConfig(ComponentBase):
    """Orders the usable candidates in one call (`[2] > [1] > [3]`) and keeps the best `top_k`."""

    type: Literal["ranker"] = "ranker"
    top_k: int = Field(default=5, ge=1)

    role: ClassVar[Role] = "filter"
    produces: ClassVar[frozenset[str]] = frozenset({"rank"})
    uses: ClassVar[frozenset[str]] = frozenset({"critique"})

    def max_calls(self, n_in: int) -> int:  # one candidate needs no ranking
        return 1 if n_in >= 2 else 0

    def max_out(self, n_in: int) -> int:
        return min(self.top_k, n_in)


class CriticConfig(ComponentBase):
    """Writes strengths and weaknesses of every usable candidate in one call (annotation `critique`)."""

    type: Literal["critic"] = "critic"

    role: ClassVar[Role] = "annotate"
    produces: ClassVar[frozenset[str]] = frozenset({"critique"})


class VerifierConfig(ComponentBase):
    """Checks each usable candidate (one call each) and keeps those judged `[Correct]`."""

    type: Literal["verifier"] = "verifier"

    role: ClassVar[Role] = "filter"
    produces: ClassVar[frozenset[str]] = frozenset({"verdict"})

    def max_calls(self, n_in: int) -> int:
        return n_in


class UnitTestGeneratorConfig(ComponentBase):
    """Writes `num_tests` unit tests for the request into `State.unit_tests` (messages stay untouched)."""

    type: Literal["unit_test_generator"] = "unit_test_generator"
    num_tests: int = Field(default=5, ge=1)

    role: ClassVar[Role] = "tests"
    requires: ClassVar[frozenset[str]] = frozenset()
    produces: ClassVar[frozenset[str]] = frozenset({"unit_tests"})

    def max_calls(self, n_in: int) -> int:
        return 1


class UnitTestEvaluatorConfig(ComponentBase):
    """Judges each usable candidate against the unit tests (one call each); keeps the `top_k` that pass most."""

    type: Literal["unit_test_evaluator"] = "unit_test_evaluator"
    top_k: int = Field(default=1, ge=1)

    role: ClassVar[Role] = "filter"
    requires: ClassVar[frozenset[str]] = frozenset({"candidates", "unit_tests"})
    produces: ClassVar[frozenset[str]] = frozenset({"tests_passed"})

    def max_calls(self, n_in: int) -> int:
        return n_in

    def max_out(self, n_in: int) -> int:
        return min(self.top_k, n_in)


ComponentConfig = Annotated[
    (
        GeneratorConfig
        | FuserConfig
        | RankerConfig
        | CriticConfig
        | VerifierConfig
        | UnitTestGeneratorConfig
        | UnitTestEvaluatorConfig
    ),
    Field(discriminator="type"),
]
"""One component of a layer, chosen by its `type` key."""

COMPONENTS: Mapping[str, type[ComponentBase]] = {
    "generator": GeneratorConfig,
    "fuser": FuserConfig,
    "ranker": RankerConfig,
    "critic": CriticConfig,
    "verifier": VerifierConfig,
    "unit_test_generator": UnitTestGeneratorConfig,
    "unit_test_evaluator": UnitTestEvaluatorConfig,
}
"""Each component `type` and its config class."""

Layers = tuple[Annotated[tuple[ComponentConfig, ...], Field(min_length=1)], ...]


class BudgetConfig(_Strict):
    """Limits on one run (see `routerkit.compose.budget.Budget`); None means no limit."""

    max_calls: int | None = Field(default=None, ge=0)
    """Checked at validation time against the worst case, and before every call."""
    max_tokens: int | None = Field(default=None, ge=0)
    max_cost_usd: float | None = Field(default=None, ge=0.0)

    def to_budget(self) -> Budget:
        """The runtime `Budget` with these limits."""
        return Budget(self.max_calls, self.max_tokens, self.max_cost_usd)


class PipelineConfig(_Strict):
    """A whole pipeline: layers run in order, the components of a layer run concurrently.

    `PipelineConfig.model_validate(mapping)` raises `ConfigError` (not pydantic's `ValidationError`)
    naming every invalid key, the construction rules broken, and a worst case over `budget.max_calls`.
    """

    version: Literal[1]
    """The schema version; required, so a future schema can tell old files apart."""
    name: str = Field(default="pipeline", min_length=1)
    seed: int = 0
    """Makes runs reproducible: with `pass_seed`, each call gets a `seed` option derived from it and the
    call's id. The operators themselves make no random choices (ties go to the earlier candidate)."""
    pass_seed: bool = False
    """Send the derived `seed` option to the models (only for clients that accept it)."""
    max_concurrency: int = Field(default=16, ge=1)
    """The most model calls in flight at once in one run."""
    budget: BudgetConfig | None = None
    layers: Layers = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Self:
        problems = rule_problems(self.layers)
        context = info.context if isinstance(info.context, Mapping) else {}
        budget = context.get("budget") or (self.budget.to_budget() if self.budget else None)
        if not problems and isinstance(budget, Budget):
            problems = _budget_problems(self, budget)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @classmethod
    def model_validate(
        cls,
        obj: Any,
        *,
        strict: bool | None = None,
        from_attributes: bool | None = None,
        context: Any | None = None,
        **kwargs: Any,
    ) -> Self:
        """Validate `obj` (a mapping) as a pipeline config.

        `context` may hold `source` (a file name, for messages) and `budget` (a `Budget` that replaces
        the config's own in the worst-case check).

        Raises:
            ConfigError: naming each invalid or unknown key (with the keys allowed there), each broken
                construction rule, or a worst case over the budget's `max_calls`.
        """
        try:
            return super().model_validate(
                obj, strict=strict, from_attributes=from_attributes, context=context, **kwargs
            )
        except ValidationError as exc:
            raise ConfigError(_describe_errors(exc, _source(obj, context))) from exc


# --- construction rules and worst-case calls -------------------------------------------------------


@dataclass(frozen=True)
class LayerPlan:
    """The worst case of one layer: the most calls it makes and the most candidates it leaves."""

    calls: int
    candidates_out: int


def plan(layers: Sequence[Sequence[ComponentBase]]) -> tuple[LayerPlan, ...]:
    """The worst case layer by layer: every call answers and every candidate is usable.

    A layer of producers leaves the sum of their outputs (their inputs are replaced); a filter or
    annotator leaves what it keeps; a unit-test generator passes the candidates through.
    """
    plans, flowing = [], 0
    for layer in layers:
        calls = sum(component.max_calls(flowing) for component in layer)
        if any(component.role == "produce" for component in layer):
            flowing = sum(component.max_out(flowing) for component in layer)
        else:
            flowing = min(component.max_out(flowing) for component in layer)
        plans.append(LayerPlan(calls, flowing))
    return tuple(plans)


def worst_case_calls(config: PipelineConfig) -> int:
    """The most model calls one run of `config` can make (the figure checked against `max_calls`)."""
    return sum(layer.calls for layer in plan(config.layers))


def check_budget(config: PipelineConfig, budget: Budget) -> None:
    """Refuse `budget` for `config` if the worst-case calls exceed its `max_calls`.

    Raises:
        ConfigError: naming the worst case, its split over the layers, and the limit.
    """
    problems = _budget_problems(config, budget)
    if problems:
        raise ConfigError(f"Pipeline {config.name!r}: {problems[0]}")


def _budget_problems(config: PipelineConfig, budget: Budget) -> list[str]:
    if budget.max_calls is None:
        return []
    per_layer = [layer.calls for layer in plan(config.layers)]
    if sum(per_layer) <= budget.max_calls:
        return []
    return [
        f"the worst case is {sum(per_layer)} calls (per layer: {', '.join(map(str, per_layer))}), over the "
        f"budget's `max_calls` of {budget.max_calls}. Raise `budget.max_calls`, or lower `samples`, `top_k` "
        "or the number of generators"
    ]


def rule_problems(layers: Sequence[Sequence[ComponentBase]]) -> list[str]:
    """Every construction rule `layers` breaks (empty when it is a valid pipeline).

    The rules: a layer holds either producers (generators or fusers, whose outputs are concatenated)
    or exactly one other component; generators appear only in the first layer that makes candidates,
    which a unit-test generator layer may precede; each component's `requires` were produced by an
    earlier layer; a critic is followed later by a ranker or a fuser that reads its critiques; and the
    last layer leaves at most one candidate, so a model, not a position, picks the answer.
    """
    problems: list[str] = []
    produced: set[str] = set()
    first_producer: int | None = None
    unread_critics: list[int] = []
    for index, layer in enumerate(layers):
        problems += _layer_shape_problems(index, layer)
        problems += _requirement_problems(index, layer, produced)
        if any(component.role == "produce" for component in layer):
            problems += _generator_problems(index, layer, first_producer)
            first_producer = index if first_producer is None else first_producer
        if any("critique" in component.uses for component in layer):
            unread_critics.clear()
        if any("critique" in component.produces for component in layer):
            unread_critics.append(index)
        produced.update(*(component.produces for component in layer))
    problems += [
        f"the critic in `layers[{index}]` is not followed by a ranker or fuser, so its critiques are never "
        "read: add one after it, or remove the critic"
        for index in unread_critics
    ]
    return problems + _last_layer_problems(layers)


def _layer_shape_problems(index: int, layer: Sequence[ComponentBase]) -> list[str]:
    roles = {component.role for component in layer}
    if len(layer) == 1 or roles == {"produce"}:
        return []
    kinds = ", ".join(component.type for component in layer)
    return [
        f"`layers[{index}]` holds {kinds}: only generators and fusers can share a layer (their candidates "
        "are concatenated); give every ranker, critic, verifier and unit-test component a layer of its own"
    ]


def _requirement_problems(index: int, layer: Sequence[ComponentBase], produced: set[str]) -> list[str]:
    problems = []
    for position, component in enumerate(layer):
        kind = component.type
        for missing in sorted(component.requires - produced):
            source = "generators" if missing == "candidates" else "a `unit_test_generator`"
            problems.append(
                f"`layers[{index}][{position}]` ({kind}) needs {missing} from an earlier layer: "
                f"put a layer with {source} before it"
            )
    return problems


def _generator_problems(index: int, layer: Sequence[ComponentBase], first_producer: int | None) -> list[str]:
    kinds = {component.type for component in layer}
    if first_producer is not None and "generator" in kinds:
        return [
            f"`layers[{index}]` has a generator, but generators belong only in the first layer that makes "
            f"candidates (`layers[{first_producer}]`); later layers fuse, rank or filter them"
        ]
    return []


def _last_layer_problems(layers: Sequence[Sequence[ComponentBase]]) -> list[str]:
    plans = plan(layers)
    if not plans or plans[-1].candidates_out <= 1:
        return []
    return [
        f"the last layer can leave {plans[-1].candidates_out} candidates; end with a single fuser "
        "(`samples: 1`) or a ranker or `unit_test_evaluator` with `top_k: 1`, so that a model picks the answer"
    ]


# --- files ----------------------------------------------------------------------------------------


def load_config(path: str | Path, *, budget: Budget | None = None) -> PipelineConfig:
    """Read and validate a pipeline config from a `.json`, `.yaml` or `.yml` file.

    Args:
        path: The file.
        budget: Replaces the file's `budget` in the worst-case check.

    Raises:
        ConfigError: if the file is missing, unparsable, not a mapping, or invalid (naming the key).
        MissingDependencyError: for a YAML file when PyYAML (extra `compose`) is not installed.
    """
    file = Path(path)
    if file.suffix not in (".json", ".yaml", ".yml"):
        raise ConfigError(
            f"Pipeline config {str(file)!r} has the suffix {file.suffix!r}; use `.json`, `.yaml` or `.yml`."
        )
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read the pipeline config {str(file)!r}: {exc.strerror}.") from exc
    raw = _parse_json(file, text) if file.suffix == ".json" else _parse_yaml(file, text)
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"The pipeline config {str(file)!r} must be a mapping with `version` and `layers` at the top, "
            f"got {type(raw).__name__}."
        )
    context: dict[str, object] = {"source": str(file)}
    if budget is not None:
        context["budget"] = budget
    return PipelineConfig.model_validate(raw, context=context)


def _parse_json(file: Path, text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"The pipeline config {str(file)!r} is not valid JSON: {exc}.") from exc


def _parse_yaml(file: Path, text: str) -> object:
    try:
        import yaml
    except ImportError as exc:
        raise MissingDependencyError.for_extra("Reading a YAML pipeline config", "compose", "pyyaml") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"The pipeline config {str(file)!r} is not valid YAML: {exc}.") from exc


# --- error messages -------------------------------------------------------------------------------


def _source(obj: object, context: object) -> str:
    if isinstance(context, Mapping) and context.get("source"):
        return repr(str(context["source"]))
    if isinstance(obj, Mapping) and isinstance(obj.get("name"), str):
        return repr(obj["name"])
    return "(unnamed)"


def _describe_errors(exc: ValidationError, source: str) -> str:
    errors = exc.errors()
    locations = [tuple(error["loc"]) for error in errors]
    # A list whose only item is invalid is also reported as too short; the item's own error says it all.
    shown = [e for e in errors if e["type"] != "too_short" or not _has_inner(tuple(e["loc"]), locations)]
    return f"Invalid pipeline config {source}: " + "; ".join(_describe(error) for error in shown) + "."


def _has_inner(loc: tuple[Any, ...], locations: Sequence[tuple[Any, ...]]) -> bool:
    return any(len(other) > len(loc) and other[: len(loc)] == loc for other in locations)


def _describe(error: Any) -> str:
    """One pydantic error as `where: what`, with the allowed keys or types where a name is unknown."""
    parts, owner, component = _locate(tuple(error["loc"]))
    kind = error["type"]
    if kind == "extra_forbidden":
        key, allowed = str(parts[-1]), list(owner.model_fields)
        where = f"`{_join(parts[:-1])}` ({component})" if component else f"`{_join(parts[:-1])}`"
        if len(parts) == 1:
            where = "the top level"
        return f"unknown key {key!r} in {where}{_did_you_mean(key, allowed)}; allowed keys: {', '.join(allowed)}"
    where = _join(parts)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag = (error.get("ctx") or {}).get("tag")
        got = f"unknown component type {tag!r}{_did_you_mean(str(tag), list(COMPONENTS))}" if tag else "no `type`"
        return f"`{where}` has {got}; the types are: {', '.join(COMPONENTS)}"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "tuple_type" and len(parts) == 2 and parts[0] == "layers":
        message += " (each layer is a list of components: in YAML, `- - {type: generator, ...}`)"
    return f"`{where}`: {message}" if where else message


def _locate(loc: tuple[Any, ...]) -> tuple[list[Any], type[BaseModel], str | None]:
    """`loc` without the union tag, the config class owning its last key, and the component type when
    the error is inside a component."""
    owner: type[BaseModel] = PipelineConfig
    component = None
    parts: list[Any] = []
    for position, part in enumerate(loc):
        if position == 3 and loc[0] == "layers" and part in COMPONENTS:
            owner, component = COMPONENTS[part], str(part)
            continue
        if position == 0 and part == "budget" and len(loc) > 1:
            owner = BudgetConfig
        parts.append(part)
    return parts, owner, component


def _join(parts: Sequence[Any]) -> str:
    """`["layers", 0, 1, "model"]` → `layers[0][1].model`."""
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _did_you_mean(name: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, allowed, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
