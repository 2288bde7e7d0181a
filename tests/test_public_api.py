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
