"""The package's public surface: a sorted, complete `__all__`, docstrings, public `__module__`s, namespace packaging."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import llama_index.llms.routerkit as package
import pytest


def test_all_is_sorted_unique_and_resolves() -> None:
    assert package.__all__ == sorted(set(package.__all__))
    assert set(dir(package)) >= set(package.__all__)
    for name in package.__all__:
        assert getattr(package, name) is not None, name


def test_public_classes_have_docstrings_and_the_public_module() -> None:
    for name in package.__all__:
        if name == "__version__":
            continue
        obj = getattr(package, name)
        assert obj.__doc__, f"{name} has no docstring"
        assert obj.__module__ == "llama_index.llms.routerkit", name


def test_an_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"'llama_index\.llms\.routerkit' has no attribute 'RouterkitLM'"):
        package.RouterkitLM  # type: ignore[attr-defined]  # noqa: B018


def test_llama_index_and_llama_index_llms_stay_namespace_packages() -> None:
    # PEP 420: shipping an `__init__.py` in either would shadow every other `llama_index.*` distribution.
    source = Path(package.__file__).parent
    assert not (source.parent / "__init__.py").exists()
    assert not (source.parent.parent / "__init__.py").exists()
    for name in ("llama_index", "llama_index.llms"):
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin in (None, "namespace"), name
        assert spec.submodule_search_locations is not None
