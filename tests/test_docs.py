"""Every Python example in the README and docs/ runs, top to bottom, one namespace per page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _pages_with_examples() -> list[Path]:
    return [page for page in PAGES if BLOCK.search(page.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("page", _pages_with_examples(), ids=lambda p: p.name)
def test_examples_run(page: Path, plugins: object, capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for number, block in enumerate(BLOCK.findall(page.read_text(encoding="utf-8")), start=1):
        try:
            exec(compile(block, f"{page.name}#example{number}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{page.name} example {number} failed: {exc!r}") from exc
    print(capsys.readouterr().out)


def test_the_docs_have_examples() -> None:
    assert {p.name for p in _pages_with_examples()} >= {
        "README.md",
        "quickstart.md",
        "concepts.md",
        "data.md",
        "plugins.md",
        "evaluation.md",
        "langchain.md",
        "llamaindex.md",
        "dspy.md",
        "server.md",
        "clients.md",
        "cascade.md",
        "cascade-evaluation.md",
        "pipelines.md",
        "search.md",
        "training.md",
    }
