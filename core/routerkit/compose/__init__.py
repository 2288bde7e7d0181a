"""Compositions of several model calls: a weak→strong `Cascade` that learns strategies, and `Pipeline`s
of Archon-style layers (generate, fuse, rank, critique, verify, unit tests) with architecture search.

Every call goes through a `UsageLedger`, which enforces a `Budget` before dispatch and counts usage and
cost per model. Names are imported lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from routerkit._lazy import lazy_exports

_EXPORTS = {
    "Budget": "routerkit.compose.budget",
    "Candidate": "routerkit.compose.candidates",
    "ModelUsage": "routerkit.compose.budget",
    "State": "routerkit.compose.candidates",
    "UsageLedger": "routerkit.compose.budget",
}

__all__ = ["Budget", "Candidate", "ModelUsage", "State", "UsageLedger"]

if TYPE_CHECKING:
    from routerkit.compose.budget import Budget, ModelUsage, UsageLedger
    from routerkit.compose.candidates import Candidate, State

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
