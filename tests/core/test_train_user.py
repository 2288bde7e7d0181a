"""`routerkit train`: any kind on a dataset folder, with clear errors; `write_dataset` round-trips a table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import routerkit
from routerkit.cli import main
from routerkit.data import OutcomeTable, load_dataset, write_dataset
from routerkit.errors import ConfigError, UnknownNameError
from routerkit.routers.head import HeadRouter
from routerkit.train.user import train_router


def _slice(data_dir: Path, folder: Path, per_split: int = 60) -> OutcomeTable:
    """The first `per_split` prompts of each split of llmrouter, written as a dataset folder."""
    table = load_dataset("llmrouter")
    rows = [i for split in ("train", "val", "test") for i in table_rows(table, split)[:per_split]]
    write_dataset(table.subset(rows), folder)
    return load_dataset(folder)


def table_rows(table: OutcomeTable, split: str) -> list[int]:
    return [i for i, p in enumerate(table.prompts) if p.split == split]


def test_write_dataset_round_trips(data_dir: Path, tmp_path: Path) -> None:
    original = load_dataset("zeroeval").subset(list(range(40)))  # zeroeval has missing outcomes
    copy = load_dataset(write_dataset(original, tmp_path / "copy"))
    assert copy.prompts == original.prompts and copy.models == original.models and copy.prices == original.prices
    for name in ("scores", "output_tokens", "cost_usd"):
        np.testing.assert_array_equal(getattr(copy, name), getattr(original, name))
    with pytest.raises(ConfigError, match="overwrite=True"):
        write_dataset(original, tmp_path / "copy")


def test_train_knn_on_a_folder_and_load_it_by_path(data_dir: Path, tmp_path: Path) -> None:
    table = _slice(data_dir, tmp_path / "traffic")
    lines: list[str] = []
    manifest = train_router("knn", tmp_path / "traffic", tmp_path / "routers" / "my_knn", log=lines.append)
    assert manifest.kind == "knn" and [m.name for m in manifest.models] == list(table.models)
    assert (tmp_path / "routers" / "my_knn" / "recipe.json").is_file() and lines
    router = routerkit.load(tmp_path / "routers" / "my_knn")
    assert isinstance(router, HeadRouter)
    assert router.route("What is 12 * 7?").model in table.models
    assert routerkit.load(str(tmp_path / "routers" / "my_knn")).name == "my_knn"  # a string path works too


def test_the_cli_trains_and_reports(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _slice(data_dir, tmp_path / "traffic", per_split=40)
    out = tmp_path / "knn_cli"
    assert main(["train", "--kind", "knn", "--data", str(tmp_path / "traffic"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "routerkit.load(" in printed
    assert main(["train", "--kind", "nope", "--data", str(tmp_path / "traffic"), "--out", str(out)]) == 2
    assert "Unknown router kind 'nope'" in capsys.readouterr().err


def test_bad_requests_are_refused_before_training(data_dir: Path, tmp_path: Path) -> None:
    table = _slice(data_dir, tmp_path / "traffic", per_split=20)
    with pytest.raises(ConfigError, match=r"\[a-z0-9_\]\+"):
        train_router("knn", tmp_path / "traffic", tmp_path / "My-Router")
    with pytest.raises(ConfigError, match="--strong MODEL --weak MODEL"):
        train_router("mf", tmp_path / "traffic", tmp_path / "mf_mine")
    with pytest.raises(UnknownNameError, match="gpt-9"):
        train_router("mf", tmp_path / "traffic", tmp_path / "mf_mine", strong="gpt-9", weak=table.models[0])
    with pytest.raises(ConfigError, match="drop `--strong`"):
        train_router("knn", tmp_path / "traffic", tmp_path / "k", strong=table.models[0], weak=table.models[1])
    only_train = table.split("train")
    write_dataset(only_train, tmp_path / "train_only")
    with pytest.raises(ConfigError, match="no val or test prompts"):
        train_router("knn", tmp_path / "train_only", tmp_path / "k")
    assert not (tmp_path / "k").exists()


def test_a_folder_without_a_manifest_is_not_a_router(tmp_path: Path) -> None:
    with pytest.raises(routerkit.errors.ArtifactError, match=r"no manifest\.json"):
        routerkit.load(tmp_path)
