"""The outcome-table format: real datasets load; malformed rows name file, line and field."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from routerkit.data import battles, check_no_test_leak, held_out_hashes, load_dataset, training_tables
from routerkit.errors import DataFormatError, DataLeakError, UnknownNameError

H1, H2, H3 = "1" * 40, "2" * 40, "3" * 40
GOOD_PROMPTS = [
    {"id": "a", "text": "q a", "task": "t/x", "hash": H1, "split": "train"},
    {"id": "b", "text": "q b", "task": "t/y", "hash": H2, "split": "train"},
    {"id": "c", "text": "q c", "task": "u", "hash": H3, "split": "test"},
]
HEADER = "id,model,score,output_tokens,cost_usd\n"
GOOD_OUTCOMES = HEADER + "a,m1,1,10,0.1\na,m2,0,,\nb,m1,0.5,3,\nb,m2,0.5,4,\nc,m1,1,1,\n"
MODELS = {"m1": {"input_usd_per_mtok": 1.0, "output_usd_per_mtok": 2.0}, "m2": {"input_usd_per_mtok": None}}


def write_dataset(
    folder: Path,
    prompts: list[object] | str = GOOD_PROMPTS,
    outcomes: str = GOOD_OUTCOMES,
    models: object = MODELS,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = prompts if isinstance(prompts, str) else "\n".join(json.dumps(p) for p in prompts) + "\n"
    with gzip.open(folder / "prompts.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write(lines)
    with gzip.open(folder / "outcomes.csv.gz", "wt", encoding="utf-8") as handle:
        handle.write(outcomes)
    (folder / "models.json").write_text(json.dumps(models), encoding="utf-8")
    return folder


def test_a_valid_folder_loads(tmp_path: Path) -> None:
    table = load_dataset(write_dataset(tmp_path / "mine"))
    assert table.name == "mine" and table.models == ("m1", "m2") and len(table) == 3
    assert table.scores[0].tolist() == [1.0, 0.0]
    assert np.isnan(table.scores[2, 1]) and np.isnan(table.cost_usd[0, 1])
    assert [p.id for p in table.split("train").prompts] == ["a", "b"]
    assert table.prompts[0].task_group == "t"


def bad_prompt(**change: object) -> list[object]:
    return [{**GOOD_PROMPTS[0], **change}, *GOOD_PROMPTS[1:]]


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        pytest.param({"prompts": '{"id": "a"\n'}, r"prompts.jsonl.gz: line 1: not valid JSON", id="json"),
        pytest.param({"prompts": "[1, 2]\n"}, r"line 1: expected a JSON object", id="not-object"),
        pytest.param({"prompts": bad_prompt(text=None)}, r"line 1: field `text` must be a string", id="text"),
        pytest.param({"prompts": bad_prompt(id="")}, r"line 1: field `id` is empty", id="empty-id"),
        pytest.param({"prompts": bad_prompt(hash="xyz")}, r"line 1: field `hash` must be 40", id="hash"),
        pytest.param({"prompts": bad_prompt(split="dev")}, r"line 1: field `split` must be one of", id="split"),
        pytest.param({"prompts": [*GOOD_PROMPTS, GOOD_PROMPTS[0]]}, r"line 4: field `id`: duplicate", id="dup-id"),
        pytest.param(
            {"outcomes": "id,model,score\na,m1,1\n"}, r"outcomes.csv.gz: line 1: expected the header", id="header"
        ),
        pytest.param({"outcomes": HEADER + "z,m1,1,,\n"}, r"line 2: field `id`: 'z' is not in", id="id"),
        pytest.param({"outcomes": HEADER + "a,m9,1,,\n"}, r"line 2: field `model`: 'm9'", id="model"),
        pytest.param(
            {"outcomes": HEADER + "a,m1,1.5,,\n"}, r"line 2: field `score`: '1.5' is outside \[0, 1\]", id="range"
        ),
        pytest.param({"outcomes": HEADER + "a,m1,,,\n"}, r"line 2: field `score` is empty", id="missing"),
        pytest.param({"outcomes": HEADER + "a,m1,x,,\n"}, r"line 2: field `score`: 'x' is not a number", id="nan"),
        pytest.param({"outcomes": HEADER + "a,m1,1,-3,\n"}, r"line 2: field `output_tokens`: '-3'", id="tokens"),
        pytest.param(
            {"outcomes": GOOD_OUTCOMES + "a,m1,0,,\n"}, r"line 7: duplicate outcome for id 'a', model 'm1'", id="dup"
        ),
        pytest.param(
            {"models": {"m1": {"input_usd_per_mtok": -1}, "m2": {}}},
            r"model 'm1': field `input_usd_per_mtok`",
            id="price",
        ),
    ],
)
def test_malformed_rows_name_file_line_and_field(tmp_path: Path, kwargs: dict[str, object], pattern: str) -> None:
    folder = write_dataset(tmp_path / "bad", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(DataFormatError, match=pattern):
        load_dataset(folder)


def test_unknown_dataset_lists_the_available_ones(data_dir: Path) -> None:
    with pytest.raises(UnknownNameError, match=r"Unknown dataset 'nope'\. Available: .*'routellm'"):
        load_dataset("nope")


def test_battles_drop_ties_and_weigh_datasets_equally(tmp_path: Path) -> None:
    one = load_dataset(write_dataset(tmp_path / "one")).split("train")
    other_outcomes = HEADER + "a,m1,0,,\na,m3,1,,\nb,m1,1,,\nb,m3,0,,\nc,m1,0,,\n"
    two = load_dataset(write_dataset(tmp_path / "two", outcomes=other_outcomes, models={"m1": {}, "m3": {}})).split(
        "train"
    )
    data = battles([one, two])
    assert data.models == ("m1", "m2", "m3")
    assert data.counts == {"one": {"prompts": 2, "battles": 1}, "two": {"prompts": 2, "battles": 2}}
    winners = [data.models[i] for i in data.winner]
    assert winners == ["m1", "m3", "m1"]  # b's tie in `one` is dropped
    assert np.isclose(data.weight[:1].sum(), data.weight[1:].sum())


def test_training_refuses_prompts_whose_hash_is_in_a_test_split(tmp_path: Path) -> None:
    table = load_dataset(write_dataset(tmp_path / "leaky"))
    forbidden = held_out_hashes([table]) | {H1}  # as if another dataset holds question a as test
    with pytest.raises(DataLeakError, match=r"Refusing to train on 1 prompt\(s\) of 'leaky'.*'a'"):
        check_no_test_leak(table.split("train"), forbidden)


def test_real_training_data_respects_splits(data_dir: Path) -> None:
    tables = training_tables(["zeroeval", "arena-bench-v1"])
    assert all(p.split == "train" for t in tables for p in t.prompts)
    routellm = load_dataset("routellm")
    assert not held_out_hashes([routellm]) & {p.hash for t in tables for p in t.prompts}
    assert len(routellm) == 15344 and set(routellm.models) == {"gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"}
