"""The public surface: a sorted, complete `__all__` and an import that stays light."""

from __future__ import annotations

import subprocess
import sys

import routerkit

HEAVY = (
    "torch",
    "transformers",
    "langchain_core",
    "llama_index.core",  # `llama_index` itself is a namespace package our integration's plugin lives in
    "dspy",
    "sentence_transformers",
    "onnxruntime",
    "numpy",
    "pydantic",
    "matplotlib",
    "httpx",  # only `routerkit.clients.OpenAIClient` and the server need it
)


def test_all_is_unique_and_resolves() -> None:
    # The order is ruff's (RUF022, isort-style), checked by `make lint`.
    assert len(set(routerkit.__all__)) == len(routerkit.__all__)
    assert set(dir(routerkit)) >= set(routerkit.__all__)
    for name in routerkit.__all__:
        assert getattr(routerkit, name) is not None, name


def test_public_objects_have_docstrings() -> None:
    for name in routerkit.__all__:
        if name != "__version__":
            assert getattr(routerkit, name).__doc__, f"{name} has no docstring"


def test_import_loads_no_framework_nor_torch() -> None:
    code = f"import sys, routerkit; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"`import routerkit` loaded: {out.stdout.strip()}"


def test_loading_a_router_still_loads_no_torch_or_framework() -> None:
    code = (
        "import sys, routerkit; routerkit.load('mf').route('hello there'); "
        "print(','.join(m for m in ('torch', 'transformers', 'langchain_core', 'llama_index.core', 'dspy') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_compose_names_resolve_and_have_docstrings() -> None:
    import routerkit.compose as compose

    assert len(set(compose.__all__)) == len(compose.__all__)
    assert set(dir(compose)) >= set(compose.__all__)
    for name in compose.__all__:
        assert getattr(compose, name).__doc__, f"routerkit.compose.{name} has no docstring"


_COMPOSE_RUN = """
import logging, sys
from routerkit.compose import BayesianSearch, Cascade, DeferralPolicy, Pipeline, SelfVerifyConfidence
from routerkit.testing import ScriptedClient
from routerkit.testing.archon_task import archon_task

logging.getLogger("routerkit.compose").setLevel(logging.ERROR)
weak, strong = ScriptedClient("weak", ["4"]), ScriptedClient("strong", ["four"])
judge = SelfVerifyConfidence(ScriptedClient("judge", ["no"]))
cascade = Cascade(weak, strong, judge, DeferralPolicy.fixed(0.5))
assert cascade.run("2 + 2?").answer == "four"
task = archon_task(n_prompts=2)
result = BayesianSearch(seed=0).search(task.space(), task.objective(), max_evaluations=12, progress=False)
pipeline = Pipeline.from_config(result.best.config, task.clients())
assert pipeline.run(task.dev_set[0][0]).answer
print(",".join(m for m in HEAVY if m in sys.modules))
"""


def test_running_compositions_loads_no_torch_or_framework() -> None:
    heavy = ("torch", "transformers", "langchain_core", "llama_index.core", "dspy", "sentence_transformers")
    code = f"HEAVY = {heavy!r}\n{_COMPOSE_RUN}"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "", f"running a cascade, a pipeline and a search loaded: {out.stdout.strip()}"
