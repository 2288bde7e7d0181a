"""Every YAML configuration on docs/server.md is a valid server config (the Python examples run in test_docs)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from routerkit.server import load_config

PAGE = Path(__file__).resolve().parents[2] / "docs" / "server.md"
YAML = re.findall(r"^```yaml\n(.*?)^```", PAGE.read_text(encoding="utf-8"), re.DOTALL | re.MULTILINE)


def test_the_page_has_the_reference_and_four_backends() -> None:
    assert len(YAML) == 5
    for url in ("localhost:8000/v1", "localhost:8080/v1", "localhost:11434/v1", "https://api.openai.com/v1"):
        assert any(url in block for block in YAML), url


@pytest.mark.parametrize("block", YAML, ids=["reference", "vllm", "llama-cpp", "ollama", "openai"])
def test_each_config_validates(block: str, tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(block, encoding="utf-8")
    config = load_config(path)
    assert set(config.models) == {"strong", "weak"}
    assert "mf" in config.routers
