"""The typed search space of Archon-style pipelines (ITAS, Saad-Falcon et al., arXiv 2409.15254, §3.4).

A `Point` picks one value on each axis; `SearchSpace.compile(point)` turns it into a pipeline config of
the versioned schema (`routerkit.compose.config`). The compiled topology is fixed; the axes fill it in:

    layer 0           the top-`generators` models of `SearchSpace.generators`, `samples` calls each
    per fusion stage  [verifier, only before the final stage] → [critic] → [ranker, top `ranker_top_k`]
                      → fusers: `fusers_per_layer` of them, or one in the final stage

`fusion_layers` counts the fusion stages, the last of which is a single fuser. `fusion_layers = 0` means
no fuser at all: one selection stage whose ranker keeps the top 1 (so it needs `ranker=True`, unless a
single generator call leaves a single answer and no critic needs reading). The verifier, when on,
filters the candidates that reach the final stage, once.

Pruning rules (from the paper, §A.5): no fuser layer is fed more than `max_fuser_inputs` candidates, the
last stage has a single fuser, and every config must satisfy the pipeline's construction rules. Axes that
do not matter for a point (fusers per layer with fewer than two fusion stages, the ranker's top-k when
the ranker is off) are set to their first value by `SearchSpace.canonical`, so two points that compile to
the same pipeline are one point.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from routerkit.errors import ConfigError

__all__ = ["AXES", "Axis", "Point", "SearchSpace"]

Axis = Literal[
    "generators", "samples", "fusion_layers", "fusers_per_layer", "critic", "ranker", "verifier", "ranker_top_k"
]
AXES: tuple[Axis, ...] = (
    "generators",
    "samples",
    "fusion_layers",
    "fusers_per_layer",
    "critic",
    "ranker",
    "verifier",
    "ranker_top_k",
)
"""The axes in the order greedy search walks them (the paper's: generators, samples, layers, fusers)."""

_BOOL_AXES = ("critic", "ranker", "verifier")


@dataclass(frozen=True, order=True)
class Point:
    """One architecture: a value on each axis of a `SearchSpace`."""

    generators: int
    """How many generator models, taken in order from `SearchSpace.generators` (the best first)."""
    samples: int
    """Calls per generator model."""
    fusion_layers: int
    """Fusion stages; the last is a single fuser; 0 means a final ranker picks the answer."""
    fusers_per_layer: int
    """Fusers in each fusion stage but the last."""
    critic: bool
    ranker: bool
    verifier: bool
    ranker_top_k: int

    def label(self) -> str:
        """A short readable name, e.g. `"g3·s2·L2·f4 +critic +ranker5"`."""
        parts = [f"g{self.generators}", f"s{self.samples}", f"L{self.fusion_layers}"]
        if self.fusion_layers >= 2:
            parts.append(f"f{self.fusers_per_layer}")
        text = "·".join(parts)
        for name in ("verifier", "critic"):
            if getattr(self, name):
                text += f" +{name}"
        if self.ranker:
            text += f" +ranker{self.ranker_top_k}" if self.fusion_layers else " +ranker"
        return text

    def as_dict(self) -> dict[str, int | bool]:
        """The point's axis values by axis name."""
        return {axis: getattr(self, axis) for axis in AXES}


@dataclass(frozen=True)
class SearchSpace:
    """The axes of an architecture search, the models that fill the components, and the pruning rules.

    Every axis is a tuple of allowed values; a single value fixes the axis (e.g. `verifier=(False,)`).
    Lists are accepted and turned into tuples.
    """

    generators: tuple[str, ...]
    """Generator model names, best first: the `generators` axis takes the top 1, 2, … of them."""
    samples: tuple[int, ...] = (1, 2, 3, 4, 5)
    fusion_layers: tuple[int, ...] = (0, 1, 2, 3, 4)
    fusers_per_layer: tuple[int, ...] = (2, 4, 6, 8, 10)
    fuser_models: tuple[str, ...] = ()
    """Fuser model names, best first; a layer of n fusers uses them in turn (round robin). The final
    fuser is the first. Empty: the generators."""
    critic: tuple[bool, ...] = (False, True)
    ranker: tuple[bool, ...] = (False, True)
    verifier: tuple[bool, ...] = (False, True)
    ranker_top_k: tuple[int, ...] = (5,)
    critic_model: str | None = None
    """Model of the critic; None: the first fuser model."""
    ranker_model: str | None = None
    """Model of the ranker; None: the first fuser model."""
    verifier_model: str | None = None
    """Model of the verifier; None: the first fuser model."""
    max_fuser_inputs: int = 24
    """Pruning: no fuser layer may be fed more candidates than this (the paper's 24)."""
    generator_temperature: float | None = None
    """Sampling temperature of the generators; None leaves the client's default."""
    fuser_temperature: float | None = None
    max_tokens: int | None = None
    """`max_tokens` of every component; None leaves the client's default."""
    name: str = "itas"
    """Prefix of the compiled configs' names."""
    _points: tuple[Point, ...] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("generators", "fuser_models", *AXES[1:]):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                raise ConfigError(f"`SearchSpace.{name}` must be a tuple of values, got {value!r}.")
            object.__setattr__(self, name, tuple(value))
        if not self.fuser_models:
            object.__setattr__(self, "fuser_models", self.generators)
        _check_names("generators", self.generators)
        _check_names("fuser_models", self.fuser_models)
        _check_ints("samples", self.samples, minimum=1)
        _check_ints("fusion_layers", self.fusion_layers, minimum=0)
        _check_ints("fusers_per_layer", self.fusers_per_layer, minimum=1)
        _check_ints("ranker_top_k", self.ranker_top_k, minimum=1)
        for name in _BOOL_AXES:
            _check_bools(name, getattr(self, name))
        _check_ints("max_fuser_inputs", (self.max_fuser_inputs,), minimum=1)

    # --- axes and points -------------------------------------------------------------------------------

    def values(self, axis: Axis) -> tuple[int, ...] | tuple[bool, ...]:
        """The allowed values of `axis`, in order (for `generators`: 1 … number of generator models)."""
        if axis == "generators":
            return tuple(range(1, len(self.generators) + 1))
        if axis not in AXES:
            raise ConfigError(f"Unknown axis {axis!r}. Axes: {', '.join(AXES)}.")
        values: tuple[int, ...] | tuple[bool, ...] = getattr(self, axis)
        return values

    def point(self, **values: int | bool) -> Point:
        """A point from axis values; an axis left out takes its first value.

        Raises:
            ConfigError: naming an unknown axis or a value the axis does not allow.
        """
        unknown = sorted(set(values) - set(AXES))
        if unknown:
            raise ConfigError(f"Unknown axis {unknown[0]!r}. Axes: {', '.join(AXES)}.")
        chosen: dict[str, int | bool] = {}
        for axis in AXES:
            allowed = self.values(axis)
            value = values.get(axis, allowed[0])
            if value not in allowed or isinstance(value, bool) != isinstance(allowed[0], bool):
                raise ConfigError(f"{value!r} is not a value of the axis `{axis}`; allowed: {list(allowed)!r}.")
            chosen[axis] = value
        return Point(**chosen)  # type: ignore[arg-type]  # each value was checked against its axis

    def canonical(self, point: Point) -> Point:
        """The same architecture with the axes that do not matter for it set to their first value."""
        if point.fusion_layers < 2:
            point = replace(point, fusers_per_layer=self.fusers_per_layer[0])
        if not point.ranker or point.fusion_layers == 0:
            point = replace(point, ranker_top_k=self.ranker_top_k[0])
        return point

    def violations(self, point: Point) -> list[str]:
        """Why `point` is pruned from the space (empty when it is a valid architecture)."""
        problems = []
        candidates = point.generators * point.samples
        if point.fusion_layers == 0 and not point.ranker and (candidates > 1 or point.critic):
            problems.append(
                "without fusion layers a ranker must pick the answer and read the critiques (`ranker=True`)"
            )
        for stage, inputs in enumerate(self._fuser_inputs(point), start=1):
            if inputs > self.max_fuser_inputs:
                problems.append(
                    f"fusion stage {stage} would be fed {inputs} candidates, over `max_fuser_inputs` "
                    f"({self.max_fuser_inputs})"
                )
        return problems

    def points(self) -> tuple[Point, ...]:
        """Every valid, canonical point of the space, each once, in axis order."""
        if self._points is None:
            seen: dict[Point, None] = {}
            for combo in itertools.product(*(self.values(axis) for axis in AXES)):
                point = self.canonical(Point(*combo))  # type: ignore[arg-type]  # axis values, in field order
                if point not in seen and not self.violations(point):
                    seen[point] = None
            object.__setattr__(self, "_points", tuple(seen))
        assert self._points is not None  # set just above
        return self._points

    @property
    def size(self) -> int:
        """How many architectures the space holds after pruning (`len(space.points())`)."""
        return len(self.points())

    @property
    def raw_size(self) -> int:
        """The product of the axis sizes, before pruning and merging equivalent points."""
        size = 1
        for axis in AXES:
            size *= len(self.values(axis))
        return size

    # --- compiling ----------------------------------------------------------------------------------

    def compile(self, point: Point, *, seed: int = 0) -> dict[str, object]:
        """The pipeline config (schema version 1) of `point`.

        Raises:
            ConfigError: if `point` is not a value of this space, or is pruned (the message says why).
        """
        point = self._check(point)
        layers: list[list[dict[str, object]]] = [
            [self._component("generator", model, samples=point.samples) for model in self._generator_models(point)]
        ]
        for stage in range(max(point.fusion_layers, 1)):
            layers.extend(self._stage(point, final=stage == max(point.fusion_layers, 1) - 1))
        return {"version": 1, "name": f"{self.name}-{_slug(point)}", "seed": seed, "layers": layers}

    def worst_case_calls(self, point: Point) -> int:
        """The most model calls one query can make under `point`: every call answers, every verifier keeps
        every candidate (the figure `routerkit.compose.config.worst_case_calls` gives for the compiled config).
        """
        point = self._check(point)
        calls = candidates = point.generators * point.samples
        stages = max(point.fusion_layers, 1)
        for stage in range(stages):
            final = stage == stages - 1
            calls += candidates if point.verifier and final else 0
            calls += 1 if point.critic and candidates else 0
            if point.ranker:
                calls += 1 if candidates >= 2 else 0  # one candidate needs no ranking
                candidates = min(candidates, point.ranker_top_k if point.fusion_layers else 1)
            if point.fusion_layers:
                candidates = 1 if final else point.fusers_per_layer
                calls += candidates
        return calls

    def _check(self, point: Point) -> Point:
        checked = self.point(**point.as_dict())
        problems = self.violations(checked)
        if problems:
            raise ConfigError(f"The point {point.label()!r} is pruned from the space: {'; '.join(problems)}.")
        return self.canonical(checked)

    def _fuser_inputs(self, point: Point) -> Iterator[int]:
        candidates = point.generators * point.samples
        for _ in range(point.fusion_layers):
            yield min(candidates, point.ranker_top_k) if point.ranker else candidates
            candidates = point.fusers_per_layer

    def _stage(self, point: Point, *, final: bool) -> list[list[dict[str, object]]]:
        """The layers of one fusion stage (or, with no fusion layers, of the selection stage)."""
        layers: list[list[dict[str, object]]] = []
        if point.verifier and final:
            layers.append([self._component("verifier", self.verifier_model or self.fuser_models[0])])
        if point.critic:
            layers.append([self._component("critic", self.critic_model or self.fuser_models[0])])
        if point.ranker:
            top_k = point.ranker_top_k if point.fusion_layers else 1
            layers.append([self._component("ranker", self.ranker_model or self.fuser_models[0], top_k=top_k)])
        if point.fusion_layers:
            fusers = 1 if final else point.fusers_per_layer
            layers.append([self._component("fuser", m, samples=n) for m, n in self._fuser_counts(fusers).items()])
        return layers

    def _generator_models(self, point: Point) -> tuple[str, ...]:
        return self.generators[: point.generators]

    def _fuser_counts(self, fusers: int) -> dict[str, int]:
        """How many fusers each fuser model runs: `fusers` dealt round robin over `fuser_models`."""
        counts: dict[str, int] = {}
        for index in range(fusers):
            model = self.fuser_models[index % len(self.fuser_models)]
            counts[model] = counts.get(model, 0) + 1
        return counts

    def _component(self, kind: str, model: str, **keys: object) -> dict[str, object]:
        component: dict[str, object] = {"type": kind, "model": model, **keys}
        temperature = {"generator": self.generator_temperature, "fuser": self.fuser_temperature}.get(kind)
        if temperature is not None:
            component["temperature"] = temperature
        if self.max_tokens is not None:
            component["max_tokens"] = self.max_tokens
        return component


def _slug(point: Point) -> str:
    flags = "".join(
        letter for letter, on in zip("vcr", (point.verifier, point.critic, point.ranker), strict=True) if on
    )
    slug = f"g{point.generators}s{point.samples}l{point.fusion_layers}"
    if point.fusion_layers >= 2:
        slug += f"f{point.fusers_per_layer}"
    if point.ranker and point.fusion_layers:
        slug += f"k{point.ranker_top_k}"
    return f"{slug}-{flags}" if flags else slug


def _check_names(name: str, names: tuple[object, ...]) -> None:
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(f"`SearchSpace.{name}` must be a non-empty tuple of model names, got {names!r}.")
    if len(set(names)) != len(names):
        raise ConfigError(f"`SearchSpace.{name}` names a model twice: {names!r}. List each model once.")


def _check_ints(name: str, values: tuple[object, ...], *, minimum: int) -> None:
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in values):
        raise ConfigError(f"`SearchSpace.{name}` must hold integers >= {minimum}, got {values!r}.")
    if len(set(values)) != len(values):
        raise ConfigError(f"`SearchSpace.{name}` repeats a value: {values!r}.")


def _check_bools(name: str, values: tuple[object, ...]) -> None:
    if not values or not all(isinstance(v, bool) for v in values) or len(set(values)) != len(values):
        raise ConfigError(
            f"`SearchSpace.{name}` must be `(False, True)` (searched), `(True,)` or `(False,)` (fixed), got {values!r}."
        )
