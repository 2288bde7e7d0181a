"""Compositions of several model calls: a weak→strong `Cascade` that learns strategies, and `Pipeline`s
of Archon-style layers (generate, fuse, rank, critique, verify, unit tests) with architecture search.

Every call goes through a `UsageLedger`, which enforces a `Budget` before dispatch and counts usage and
cost per model. Names are imported lazily: `import routerkit.compose` loads none of the submodules, and
none of them imports torch or a framework. Guides: docs/cascade.md, docs/pipelines.md, docs/search.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from routerkit._lazy import lazy_exports

_EXPORTS = {
    "AsyncCascadeStream": "routerkit.compose.cascade",
    "BaseObjective": "routerkit.compose.search_objective",
    "BayesianSearch": "routerkit.compose.search",
    "Budget": "routerkit.compose.budget",
    "Candidate": "routerkit.compose.candidates",
    "Cascade": "routerkit.compose.cascade",
    "CascadeResult": "routerkit.compose.cascade_stats",
    "CascadeStats": "routerkit.compose.cascade_stats",
    "CascadeStream": "routerkit.compose.cascade",
    "ConfidenceEstimator": "routerkit.compose.confidence",
    "Critique": "routerkit.compose.operators_judges",
    "DeferralPolicy": "routerkit.compose.deferral",
    "EvalTests": "routerkit.compose.operators_tests",
    "Evaluation": "routerkit.compose.search_objective",
    "FunctionObjective": "routerkit.compose.search_objective",
    "Fuse": "routerkit.compose.operators",
    "GenTests": "routerkit.compose.operators_tests",
    "Generate": "routerkit.compose.operators",
    "GreedySearch": "routerkit.compose.search",
    "LogprobConfidence": "routerkit.compose.confidence",
    "Measurement": "routerkit.compose.search_objective",
    "ModelUsage": "routerkit.compose.budget",
    "Objective": "routerkit.compose.search_objective",
    "Operator": "routerkit.compose.operators",
    "Pipeline": "routerkit.compose.pipeline",
    "PipelineBudgetExceededError": "routerkit.compose.pipeline",
    "PipelineCallError": "routerkit.compose.pipeline",
    "PipelineConfig": "routerkit.compose.config",
    "PipelineResult": "routerkit.compose.pipeline",
    "Point": "routerkit.compose.search_space",
    "RandomSearch": "routerkit.compose.search",
    "Rank": "routerkit.compose.operators_judges",
    "RouterConfidence": "routerkit.compose.confidence",
    "SearchResult": "routerkit.compose.search",
    "SearchSpace": "routerkit.compose.search_space",
    "Searcher": "routerkit.compose.search",
    "SelfVerifyConfidence": "routerkit.compose.confidence",
    "State": "routerkit.compose.candidates",
    "Strategy": "routerkit.compose.strategies",
    "StrategyStore": "routerkit.compose.strategies",
    "UsageLedger": "routerkit.compose.budget",
    "Verify": "routerkit.compose.operators_judges",
    "load_config": "routerkit.compose.config",
    "worst_case_calls": "routerkit.compose.config",
}

__all__ = [
    "AsyncCascadeStream",
    "BaseObjective",
    "BayesianSearch",
    "Budget",
    "Candidate",
    "Cascade",
    "CascadeResult",
    "CascadeStats",
    "CascadeStream",
    "ConfidenceEstimator",
    "Critique",
    "DeferralPolicy",
    "EvalTests",
    "Evaluation",
    "FunctionObjective",
    "Fuse",
    "GenTests",
    "Generate",
    "GreedySearch",
    "LogprobConfidence",
    "Measurement",
    "ModelUsage",
    "Objective",
    "Operator",
    "Pipeline",
    "PipelineBudgetExceededError",
    "PipelineCallError",
    "PipelineConfig",
    "PipelineResult",
    "Point",
    "RandomSearch",
    "Rank",
    "RouterConfidence",
    "SearchResult",
    "SearchSpace",
    "Searcher",
    "SelfVerifyConfidence",
    "State",
    "Strategy",
    "StrategyStore",
    "UsageLedger",
    "Verify",
    "load_config",
    "worst_case_calls",
]

if TYPE_CHECKING:
    from routerkit.compose.budget import Budget, ModelUsage, UsageLedger
    from routerkit.compose.candidates import Candidate, State
    from routerkit.compose.cascade import AsyncCascadeStream, Cascade, CascadeStream
    from routerkit.compose.cascade_stats import CascadeResult, CascadeStats
    from routerkit.compose.confidence import (
        ConfidenceEstimator,
        LogprobConfidence,
        RouterConfidence,
        SelfVerifyConfidence,
    )
    from routerkit.compose.config import PipelineConfig, load_config, worst_case_calls
    from routerkit.compose.deferral import DeferralPolicy
    from routerkit.compose.operators import Fuse, Generate, Operator
    from routerkit.compose.operators_judges import Critique, Rank, Verify
    from routerkit.compose.operators_tests import EvalTests, GenTests
    from routerkit.compose.pipeline import Pipeline, PipelineBudgetExceededError, PipelineCallError, PipelineResult
    from routerkit.compose.search import BayesianSearch, GreedySearch, RandomSearch, Searcher, SearchResult
    from routerkit.compose.search_objective import BaseObjective, Evaluation, FunctionObjective, Measurement, Objective
    from routerkit.compose.search_space import Point, SearchSpace
    from routerkit.compose.strategies import Strategy, StrategyStore

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
