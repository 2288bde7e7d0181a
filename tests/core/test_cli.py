"""The `routerkit` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from routerkit.cli import main


def test_list_shows_baselines(plugins: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "length" in out and "random" in out and "baseline" in out


def test_route_prints_decision_scores_and_latency(plugins: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", "What is the capital of France?", "--router", "length", "--threshold", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "model:    gpt-4-1106-preview (strong)" in out
    assert "strong_win_rate=" in out and "latency:" in out and " ms" in out


def test_route_json_and_strong_share(plugins: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sample = tmp_path / "traffic.txt"
    sample.write_text("\n".join(f"prompt {'x' * i}" for i in range(100)), encoding="utf-8")
    args = ["route", "prompt " + "x" * 95, "--router", "length", "--strong-share", "0.1", "--calibrate-on", str(sample)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "calibrated on 100 prompts" in out and "(strong)" in out
    assert main(["route", "hi there", "--router", "random", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["router"] == "random"


def test_errors_are_one_line_with_status_2(plugins: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", "", "--router", "length"]) == 2
    assert "routerkit: error: The prompt is empty" in capsys.readouterr().err
    assert main(["route", "hi", "--router", "nope"]) == 2
    assert "Unknown router 'nope'" in capsys.readouterr().err
