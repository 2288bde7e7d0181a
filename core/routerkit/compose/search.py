"""Architecture search (ITAS) over Archon-style pipelines: random, greedy and Bayesian optimisation.

    space = SearchSpace(generators=("gpt-4o", "llama-70b", "qwen-72b"), fusion_layers=(0, 1, 2))
    objective = Objective(clients, dev_set, scorer, cost_weight=10.0)
    result = BayesianSearch(seed=0).search(space, objective, max_evaluations=40)
    result.best.config   # a pipeline config for `Pipeline.from_config`
    print(result.report(5))

Every searcher has the same interface, `search(space, objective, max_evaluations, progress=True)` (and
`asearch`), and returns a `SearchResult`. An evaluation counts once per distinct config: asking again is
answered from the cache and not counted, and infeasible points (pruned, or over the objective's call
limit) are skipped without counting.

Bayesian optimisation uses optuna's TPE sampler (extra `compose`). optuna's Gaussian-process sampler,
which the paper's GP surrogate would suggest, imports torch, and the core never imports torch.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from routerkit.compose.search_objective import (
    BaseObjective,
    DevItem,
    Evaluation,
    FunctionObjective,
    Measurement,
    Objective,
    refuse_running_loop,
)
from routerkit.compose.search_space import AXES, Axis, Point, SearchSpace
from routerkit.errors import ConfigError, MissingDependencyError

if TYPE_CHECKING:
    import optuna

__all__ = [
    "AXES",
    "BaseObjective",
    "BayesianSearch",
    "DevItem",
    "Evaluation",
    "FunctionObjective",
    "GreedySearch",
    "Measurement",
    "Objective",
    "Point",
    "RandomSearch",
    "SearchResult",
    "SearchSpace",
    "Searcher",
]


@dataclass(frozen=True)
class SearchResult:
    """What a search found: every evaluation in order, the best ones, and how fast the best was found."""

    searcher: str
    history: tuple[Evaluation, ...]
    """The distinct configs evaluated, in evaluation order (cache answers and infeasible points aside)."""
    space_size: int
    """Points in the pruned space."""
    infeasible: int = 0
    """Proposals skipped, uncounted, because they were pruned or over the objective's call limit."""
    repeats: int = 0
    """Proposals answered from this search's cache, uncounted."""
    confirmed: tuple[Evaluation, ...] = ()
    """With a subsampled objective and `confirm_top`: the top configs re-evaluated on the full dev set,
    best first."""

    @property
    def evaluations(self) -> int:
        """How many distinct configs were evaluated (the search's cost)."""
        return len(self.history)

    @property
    def best(self) -> Evaluation:
        """The best evaluation: the best confirmed one if any, else the best of the history.

        Raises:
            ConfigError: if nothing was evaluated (every proposal was infeasible).
        """
        ranked = self.top(1)
        if not ranked:
            raise ConfigError(
                f"The {self.searcher} search evaluated nothing: all {self.infeasible} proposals were infeasible. "
                "Relax `max_calls_per_query` or widen the space."
            )
        return ranked[0]

    def top(self, n: int = 5) -> list[Evaluation]:
        """The `n` best evaluations, best first (ties: the earlier evaluated first)."""
        if self.confirmed:
            return list(self.confirmed[:n])
        return sorted(self.history, key=lambda e: -e.value)[:n]

    @property
    def best_so_far(self) -> tuple[float, ...]:
        """The best value after each evaluation (the convergence curve)."""
        curve, best = [], float("-inf")
        for evaluation in self.history:
            best = max(best, evaluation.value)
            curve.append(best)
        return tuple(curve)

    @property
    def evaluations_to_best(self) -> int:
        """The evaluation (counted from 1) at which the search first reached its final best value."""
        curve = self.best_so_far
        return curve.index(curve[-1]) + 1 if curve else 0

    def report(self, n: int = 5) -> str:
        """The top `n` configs as a Markdown table: value, score, calls and cost per query."""
        lines = [
            "| rank | architecture | value | score | calls/query | cost/query (USD) |",
            "|---|---|---|---|---|---|",
        ]
        for rank, e in enumerate(self.top(n), start=1):
            lines.append(
                f"| {rank} | {e.point.label()} | {e.value:.4f} | {e.score:.3f} | "
                f"{e.calls_per_query:.1f} | {e.cost_per_query:.6f} |"
            )
        return "\n".join(lines)


class _Exhausted(Exception):
    """Raised inside a searcher when its evaluation budget is spent."""


class _Session:
    """One search run: counts distinct evaluations, skips infeasible points, drives the progress bar."""

    def __init__(
        self,
        space: SearchSpace,
        objective: BaseObjective,
        max_evaluations: int,
        bar: Any,
        *,
        target: float | None = None,
        max_proposals: int,
    ) -> None:
        self.space, self.objective, self.max_evaluations, self.bar = space, objective, max_evaluations, bar
        self.target, self.max_proposals = target, max_proposals
        self.history: list[Evaluation] = []
        self.seen: dict[Point, Evaluation] = {}
        self.infeasible = self.repeats = self.proposals = 0

    def feasible(self, point: Point) -> bool:
        return self.objective.feasible(self.space, point)

    def known(self, point: Point) -> bool:
        """Whether `point` (or an equivalent one) was evaluated in this search."""
        return self.space.canonical(point) in self.seen

    async def evaluate(self, point: Point) -> Evaluation | None:
        """Evaluate `point` and count it, or answer from the cache; None (uncounted) if infeasible.

        Raises:
            _Exhausted: when the evaluation budget or the proposal cap is spent, or the target is reached.
        """
        self.proposals += 1
        if self.proposals > self.max_proposals:
            raise _Exhausted
        if not self.feasible(point):
            self.infeasible += 1
            return None
        point = self.space.canonical(point)
        if point in self.seen:
            self.repeats += 1
            return self.seen[point]
        if len(self.history) >= self.max_evaluations:
            raise _Exhausted
        evaluation = await self.objective.aevaluate(self.space, point)
        self.seen[point] = evaluation
        self.history.append(evaluation)
        self.bar.update(1)
        self.bar.set_postfix(best=f"{max(e.value for e in self.history):.4f}", refresh=False)
        if self.target is not None and evaluation.value >= self.target:
            raise _Exhausted
        return evaluation

    def unseen_feasible(self) -> list[Point]:
        """The feasible points of the space not evaluated yet, in space order."""
        return [p for p in self.space.points() if p not in self.seen and self.feasible(p)]


class Searcher(ABC):
    """Base of the searchers: one abstract step, `_run`, proposing points to a search session."""

    name: ClassVar[str]

    async def asearch(
        self,
        space: SearchSpace,
        objective: BaseObjective,
        max_evaluations: int,
        *,
        progress: bool = True,
        confirm_top: int = 0,
        target: float | None = None,
    ) -> SearchResult:
        """Search `space` for the config that maximises `objective`.

        Args:
            space: The architectures to search.
            objective: What to maximise (its cache is shared by every search that uses it).
            max_evaluations: How many distinct configs may be evaluated.
            progress: Show a tqdm progress bar (extra `compose`).
            confirm_top: With an objective that evaluates on a dev subsample, re-evaluate this many of the
                best configs on the full dev set afterwards (not counted as search evaluations).
            target: Stop as soon as an evaluation's value reaches this (good enough; or, in benchmarks,
                the known best). None: search until `max_evaluations`.

        Raises:
            ConfigError: if `max_evaluations` < 1, `confirm_top` < 0, or the space names unknown models.
            MissingDependencyError: if `progress` is on and tqdm is not installed (or the searcher needs optuna).
        """
        if isinstance(max_evaluations, bool) or not isinstance(max_evaluations, int) or max_evaluations < 1:
            raise ConfigError(f"`max_evaluations` must be an integer >= 1, got {max_evaluations!r}.")
        if confirm_top < 0:
            raise ConfigError(f"`confirm_top` must be >= 0, got {confirm_top!r}.")
        objective.check(space)
        with _progress(progress, max_evaluations, f"{self.name} search") as bar:
            cap = 100 * max_evaluations + 1000  # proposals, counting repeats and infeasible ones
            session = _Session(space, objective, max_evaluations, bar, target=target, max_proposals=cap)
            with contextlib.suppress(_Exhausted):
                await self._run(session)
        confirmed = await _confirm(space, objective, session.history, confirm_top)
        return SearchResult(
            self.name, tuple(session.history), space.size, session.infeasible, session.repeats, confirmed
        )

    def search(
        self,
        space: SearchSpace,
        objective: BaseObjective,
        max_evaluations: int,
        *,
        progress: bool = True,
        confirm_top: int = 0,
        target: float | None = None,
    ) -> SearchResult:
        """Sync twin of `asearch` (not from inside a running event loop: await `asearch` there)."""
        refuse_running_loop(f"{type(self).__name__}.search", "await searcher.asearch(...)")
        search = self.asearch(
            space, objective, max_evaluations, progress=progress, confirm_top=confirm_top, target=target
        )
        return asyncio.run(search)

    @abstractmethod
    async def _run(self, session: _Session) -> None:
        """Propose points to `session.evaluate` until done (the session stops the search at its budget)."""


class RandomSearch(Searcher):
    """Evaluates the points of the pruned space in a seeded random order, without repeats."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        """Args: seed: The order's seed."""
        self.seed = seed

    async def _run(self, session: _Session) -> None:
        points = list(session.space.points())
        random.Random(self.seed).shuffle(points)
        for point in points:
            await session.evaluate(point)


class GreedySearch(Searcher):
    """Coordinate ascent over the axes, from a small start point, as in the paper's greedy search.

    In turn for each axis (generators, samples, fusion layers, fusers per layer, critic, ranker, verifier,
    ranker top-k), every value of that axis is tried with the others held; the search moves to the best
    if it is strictly better. Passes over the axes repeat until one changes nothing or the budget is spent.
    It is deterministic and can stop at a local optimum.
    """

    name = "greedy"

    def __init__(self, start: Mapping[str, int | bool] | None = None, axes: Sequence[Axis] = AXES) -> None:
        """Args:
        start: Axis values of the start point (the rest take their first value); None: the smallest
            feasible point with one fusion layer (one generator call and one fuser), or with the fewest
            fusion layers the space allows.
        axes: The axes to walk, in order.
        """
        unknown = sorted(set(axes) - set(AXES))
        if unknown or not axes:
            raise ConfigError(f"`axes` must name axes among {', '.join(AXES)}; got {list(axes)!r}.")
        self.start, self.axes = start, tuple(axes)

    async def _run(self, session: _Session) -> None:
        current = self._start(session)
        best = await session.evaluate(current)
        if best is None:
            raise ConfigError(f"The greedy start point {current.label()!r} is infeasible. Pass a feasible `start`.")
        moved = True
        while moved:
            moved = False
            for axis in self.axes:
                for value in session.space.values(axis):
                    candidate = session.space.point(**{**current.as_dict(), axis: value})
                    evaluation = await session.evaluate(candidate)
                    if evaluation is not None and evaluation.value > best.value:
                        best, current, moved = evaluation, candidate, True

    def _start(self, session: _Session) -> Point:
        if self.start is not None:
            return session.space.point(**self.start)
        feasible = [point for point in session.space.points() if session.feasible(point)]
        if not feasible:
            raise ConfigError("No point of the space is feasible under the objective's `max_calls_per_query`.")
        # The smallest architecture with a fuser (one generator call, one fuser), if the space has one:
        # without a fuser or a ranker nothing can merge a second generator, so the walk could not start.
        fused = [point for point in feasible if point.fusion_layers >= 1]
        return min(fused or feasible, key=lambda p: (p.fusion_layers, session.space.worst_case_calls(p)))


class BayesianSearch(Searcher):
    """Bayesian optimisation with optuna's TPE sampler (a tree-structured Parzen estimator), seeded.

    Integer axes are ordinal (optuna sees the index of the value, so neighbours are near), on/off axes
    categorical; fixed axes are not sampled. Infeasible proposals are told to optuna as pruned trials and
    not counted. A proposal already evaluated is answered from the cache and told again; after `patience`
    such repeats in a row the next trial is a random unevaluated point, so the search keeps learning.
    """

    name = "bayesian"

    def __init__(self, seed: int = 0, *, n_startup_trials: int = 10, patience: int = 5) -> None:
        """Args:
        seed: The sampler's seed.
        n_startup_trials: Random trials before the TPE model is used (optuna's default 10).
        patience: Repeated proposals in a row before a random unevaluated point is queued.
        """
        if n_startup_trials < 0 or patience < 1:
            raise ConfigError(
                f"Need `n_startup_trials` >= 0 and `patience` >= 1, got {n_startup_trials!r}, {patience!r}."
            )
        self.seed, self.n_startup_trials, self.patience = seed, n_startup_trials, patience

    async def _run(self, session: _Session) -> None:
        optuna = _import_optuna()
        from optuna.trial import TrialState

        axes = [axis for axis in AXES if len(session.space.values(axis)) > 1]
        sampler = optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=self.n_startup_trials)
        spare, stale = random.Random(self.seed), 0
        with _quiet_optuna(optuna):
            study = optuna.create_study(direction="maximize", sampler=sampler)
            while True:
                trial = study.ask()
                point = self._point(trial, session.space, axes)
                repeat = session.known(point)
                evaluation = await session.evaluate(point)
                if evaluation is None:
                    study.tell(trial, state=TrialState.PRUNED)
                else:
                    study.tell(trial, evaluation.value)
                stale = stale + 1 if repeat or evaluation is None else 0
                if stale >= self.patience:
                    stale = self._enqueue_random(study, session, axes, spare)

    @staticmethod
    def _point(trial: optuna.Trial, space: SearchSpace, axes: list[Axis]) -> Point:
        values: dict[str, int | bool] = {}
        for axis in AXES:
            allowed = space.values(axis)
            if axis not in axes:
                values[axis] = allowed[0]
            elif isinstance(allowed[0], bool):
                values[axis] = trial.suggest_categorical(axis, list(allowed))
            else:
                values[axis] = allowed[trial.suggest_int(axis, 0, len(allowed) - 1)]
        return space.point(**values)

    @staticmethod
    def _enqueue_random(study: optuna.Study, session: _Session, axes: list[Axis], spare: random.Random) -> int:
        """Queue a random unevaluated feasible point as the next trial; stop the search if none is left."""
        unseen = session.unseen_feasible()
        if not unseen:
            raise _Exhausted
        point = spare.choice(unseen)
        params: dict[str, Any] = {}
        for axis in axes:
            value = getattr(point, axis)
            params[axis] = value if isinstance(value, bool) else session.space.values(axis).index(value)
        study.enqueue_trial(params)
        return 0


async def _confirm(
    space: SearchSpace, objective: BaseObjective, history: list[Evaluation], confirm_top: int
) -> tuple[Evaluation, ...]:
    """Re-evaluate the best `confirm_top` configs of `history` on the full dev set, best first."""
    if not confirm_top or not objective.subsampled:
        return ()
    best_first = sorted(history, key=lambda e: -e.value)[:confirm_top]
    confirmed = [await objective.aevaluate(space, e.point, full=True) for e in best_first]
    return tuple(sorted(confirmed, key=lambda e: -e.value))


@contextlib.contextmanager
def _progress(enabled: bool, total: int, description: str) -> Iterator[Any]:
    """A tqdm bar, or a silent stand-in when progress is off."""
    if not enabled:
        yield _NoBar()
        return
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:
        raise MissingDependencyError(
            "Search progress bars need 'tqdm', which is not installed. Install it with "
            '`pip install "routerkit-core[compose]"`, or pass `progress=False`.'
        ) from exc
    with tqdm(total=total, desc=description, unit="eval") as bar:
        yield bar


class _NoBar:
    def update(self, n: int) -> None:
        """Nothing to show."""

    def set_postfix(self, **values: object) -> None:
        """Nothing to show."""


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError as exc:
        raise MissingDependencyError.for_extra("`BayesianSearch`", "compose", "optuna") from exc
    return optuna


@contextlib.contextmanager
def _quiet_optuna(optuna: Any) -> Iterator[None]:
    """Silence optuna's per-trial INFO logs for the search, restoring the caller's level after."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)
