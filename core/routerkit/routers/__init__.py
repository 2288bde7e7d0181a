"""Routers, decisions, policies and the name registry."""

from routerkit.routers.base import Router
from routerkit.routers.baselines import LengthRouter, RandomRouter
from routerkit.routers.decision import Decision
from routerkit.routers.policies import CostAware, Policy, Threshold
from routerkit.routers.registry import RouterInfo, list_routers, load

__all__ = [
    "CostAware",
    "Decision",
    "LengthRouter",
    "Policy",
    "RandomRouter",
    "Router",
    "RouterInfo",
    "Threshold",
    "list_routers",
    "load",
]
