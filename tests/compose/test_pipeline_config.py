"""Pipeline configs: strict schema, construction rules, worst-case calls against the budget, files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from routerkit.compose.budget import Budget
from routerkit.compose.config import (
    GeneratorConfig,
    PipelineConfig,
    RankerConfig,
    check_budget,
    load_config,
    plan,
    rule_problems,
    worst_case_calls,
)
from routerkit.compose.pipeline import Pipeline
from routerkit.errors import ConfigError
from routerkit.testing import ScriptedClient


def gen(model: str = "a", samples: int = 1, **keys: Any) -> dict[str, Any]:
    return {"type": "generator", "model": model, "samples": samples, **keys}


def one(kind: str, model: str = "a", **keys: Any) -> list[dict[str, Any]]:
    return [{"type": kind, "model": model, **keys}]


def config(*layers: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    return {"version": 1, "name": "t", **top, "layers": list(layers)}


QUICKSTART = config(
    [gen("gpt-4o", 3, temperature=0.7, max_tokens=512), gen("llama-70b", 2)],
    one("critic", "gpt-4o"),
    one("ranker", "gpt-4o", top_k=3),
    one("fuser", "gpt-4o", samples=1, temperature=0.0),
    seed=0,
    budget={"max_calls": 40, "max_tokens": None, "max_cost_usd": 0.5},
)


def test_the_schema_example_validates_with_defaults() -> None:
    parsed = PipelineConfig.model_validate(QUICKSTART)
    assert (parsed.version, parsed.seed, parsed.pass_seed, parsed.max_concurrency) == (1, 0, False, 16)
    first = parsed.layers[0][0]
    assert isinstance(first, GeneratorConfig)
    assert (first.samples, first.temperature, first.max_tokens, first.on_error) == (3, 0.7, 512, "skip")
    assert isinstance(parsed.layers[2][0], RankerConfig) and parsed.layers[2][0].top_k == 3
    assert parsed.budget is not None and parsed.budget.to_budget() == Budget(40, None, 0.5)


def test_worst_case_calls_follow_the_candidates_through_the_layers() -> None:
    parsed = PipelineConfig.model_validate(QUICKSTART)
    # 5 generations; a critic and a ranker call; the ranker keeps 3; one fuser call.
    assert [(p.calls, p.candidates_out) for p in plan(parsed.layers)] == [(5, 5), (1, 5), (1, 3), (1, 1)]
    assert worst_case_calls(parsed) == 8
    verify_and_tests = PipelineConfig.model_validate(
        config(
            one("unit_test_generator", num_tests=4),
            [gen("a", 4), gen("b", 2)],
            one("verifier"),
            one("unit_test_evaluator", top_k=1),
        )
    )
    # 1 test-writing call, 6 generations, 6 verifications, 6 judgements.
    assert [p.calls for p in plan(verify_and_tests.layers)] == [1, 6, 6, 6]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            config([gen("a", 2) | {"samplse": 3}], one("fuser")),
            r"unknown key 'samplse' in `layers\[0\]\[0\]` \(generator\) \(did you mean 'samples'\?\); "
            r"allowed keys: type, model, on_error, temperature, max_tokens, samples",
            id="misspelled-component-key",
        ),
        pytest.param(
            config(one("generator"), **{"sead": 3}),
            r"unknown key 'sead' in the top level \(did you mean 'seed'\?\); allowed keys: version, name, seed",
            id="misspelled-top-level-key",
        ),
        pytest.param(
            config(one("generator"), budget={"max_call": 3}),
            r"unknown key 'max_call' in `budget` \(did you mean 'max_calls'\?\); allowed keys: max_calls, max_tokens",
            id="misspelled-budget-key",
        ),
        pytest.param(
            config(one("genrator")),
            r"`layers\[0\]\[0\]` has unknown component type 'genrator' \(did you mean 'generator'\?\); "
            r"the types are: generator, fuser, ranker, critic, verifier, unit_test_generator, unit_test_evaluator",
            id="unknown-type",
        ),
        pytest.param(config([{"model": "a"}]), r"`layers\[0\]\[0\]` has no `type`", id="missing-type"),
        pytest.param(
            config([gen("a", 0)]), r"`layers\[0\]\[0\]\.samples`: Input should be greater than", id="samples-0"
        ),
        pytest.param(
            config([gen("a", 1) | {"top_k": 2}]), r"unknown key 'top_k' in `layers\[0\]\[0\]`", id="top_k-on-generator"
        ),
        pytest.param(config(one("generator"), version=2), r"`version`: Input should be 1", id="version"),
        pytest.param({"name": "t", "layers": [one("generator")]}, r"`version`: Field required", id="no-version"),
        pytest.param(
            config(gen("a")),  # type: ignore[arg-type]  # a layer written as a component instead of a list of components
            r"`layers\[0\]`: Input should be a valid tuple \(each layer is a list of components",
            id="layer-not-a-list",
        ),
        pytest.param(config(), r"`layers`: Tuple should have at least 1 item", id="no-layers"),
        pytest.param(config([]), r"`layers\[0\]`: Tuple should have at least 1 item", id="empty-layer"),
    ],
)
def test_schema_errors_name_the_key_and_where_it_is(raw: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError, match=r"^Invalid pipeline config 't'?.*" + expected):
        PipelineConfig.model_validate(raw)


def test_an_invalid_item_is_not_also_reported_as_a_short_list() -> None:
    with pytest.raises(ConfigError) as caught:
        PipelineConfig.model_validate(config(one("genrator")))
    assert "at least 1 item" not in str(caught.value)


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        pytest.param(
            [one("ranker"), [gen("a", 2)], one("fuser")],
            r"`layers\[0\]\[0\]` \(ranker\) needs candidates from an earlier layer",
            id="ranker-first",
        ),
        pytest.param(
            [[gen("a", 2), {"type": "critic", "model": "a"}], one("fuser")],
            r"`layers\[0\]` holds generator, critic: only generators and fusers can share a layer",
            id="mixed-layer",
        ),
        pytest.param(
            [[gen("a", 2)], [{"type": "ranker", "model": "a"}, {"type": "verifier", "model": "a"}], one("fuser")],
            r"`layers\[1\]` holds ranker, verifier",
            id="two-filters",
        ),
        pytest.param(
            [[gen("a", 2)], one("fuser", samples=2), [gen("b")]],
            r"`layers\[2\]` has a generator, but generators belong only in the first layer that makes candidates "
            r"\(`layers\[0\]`\)",
            id="late-generator",
        ),
        pytest.param([one("fuser")], r"`layers\[0\]\[0\]` \(fuser\) needs candidates", id="fuser-first"),
        pytest.param(
            [[gen("a", 2)], one("critic"), one("verifier"), one("unit_test_generator"), one("unit_test_evaluator")],
            r"the critic in `layers\[1\]` is not followed by a ranker or fuser",
            id="critic-never-read",
        ),
        pytest.param(
            [[gen("a", 2)], one("unit_test_evaluator")],
            r"`layers\[1\]\[0\]` \(unit_test_evaluator\) needs unit_tests from an earlier layer: put a layer with "
            r"a `unit_test_generator` before it",
            id="evaluator-without-tests",
        ),
        pytest.param(
            [[gen("a", 2), gen("b")], one("ranker", top_k=2)],
            r"the last layer can leave 2 candidates; end with a single fuser",
            id="last-layer-leaves-many",
        ),
        pytest.param([[gen("a", 3)]], r"the last layer can leave 3 candidates", id="generator-only"),
    ],
)
def test_construction_rules(layers: list[list[dict[str, Any]]], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        PipelineConfig.model_validate(config(*layers))


def test_valid_shapes_break_no_rule() -> None:
    shapes = [
        [[gen("a")]],  # one call
        [[gen("a", 3), gen("b")], one("fuser", samples=3), one("fuser", samples=2), one("fuser")],  # MoA
        [one("unit_test_generator"), [gen("a", 3)], one("unit_test_evaluator", top_k=1)],  # code
        [[gen("a", 4)], one("critic"), one("fuser", samples=2), one("verifier"), one("ranker", top_k=1)],
        [[gen("a")], one("verifier")],  # one candidate in, at most one out
    ]
    for layers in shapes:
        parsed = PipelineConfig.model_validate(config(*layers))
        assert rule_problems(parsed.layers) == []


def test_every_broken_rule_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        PipelineConfig.model_validate(config(one("ranker"), [gen("a", 2), gen("b")]))
    message = str(caught.value)
    assert "needs candidates" in message and "the last layer can leave 3 candidates" in message


def test_a_worst_case_over_the_budget_is_refused_at_validation() -> None:
    over = config([gen("a", 5), gen("b", 5)], one("verifier"), one("ranker", top_k=1), budget={"max_calls": 20})
    with pytest.raises(
        ConfigError, match=r"the worst case is 21 calls \(per layer: 10, 10, 1\), over the budget's `max_calls` of 20"
    ):
        PipelineConfig.model_validate(over)
    assert worst_case_calls(PipelineConfig.model_validate(over | {"budget": {"max_calls": 21}})) == 21


def test_a_budget_given_in_code_replaces_the_configs_own() -> None:
    tight = config([gen("a", 5)], one("fuser"), budget={"max_calls": 2})
    clients = {"a": ScriptedClient("a", ["x"])}
    pipeline = Pipeline.from_config(tight, clients, budget=Budget(max_calls=6))
    assert pipeline.budget == Budget(max_calls=6) and pipeline.worst_case_calls == 6
    roomy = PipelineConfig.model_validate(config([gen("a", 5)], one("fuser"), budget={"max_calls": 100}))
    with pytest.raises(ConfigError, match="the worst case is 6 calls"):
        Pipeline.from_config(roomy, clients, budget=Budget(max_calls=5))
    with pytest.raises(ConfigError, match="the worst case is 6 calls"):
        check_budget(roomy, Budget(max_calls=5))


def test_an_unknown_model_lists_the_known_ones() -> None:
    clients = {"gpt-4o": ScriptedClient("gpt-4o", ["x"]), "llama": ScriptedClient("llama", ["y"])}
    with pytest.raises(
        ConfigError,
        match=r"Unknown model: `layers\[0\]\[1\]\.model` is 'gpt4o'\. Known models: 'gpt-4o', 'llama'\. "
        r"Add it to `clients`",
    ):
        Pipeline.from_config(config([gen("gpt-4o"), gen("gpt4o")], one("fuser", "gpt-4o")), clients)


def test_configs_are_frozen_and_round_trip_through_json() -> None:
    parsed = PipelineConfig.model_validate(QUICKSTART)
    with pytest.raises(Exception, match="frozen"):
        parsed.seed = 3  # type: ignore[misc]
    again = PipelineConfig.model_validate(json.loads(parsed.model_dump_json()))
    assert again == parsed and hash(again) == hash(parsed)


# --- files ------------------------------------------------------------------------------------------

YAML = """\
version: 1
name: quickstart
budget: {max_calls: 40}
layers:
  - - {type: generator, model: gpt-4o, samples: 3, temperature: 0.7}
    - {type: generator, model: llama-70b, samples: 2}
  - - {type: critic, model: gpt-4o}
  - - {type: ranker, model: gpt-4o, top_k: 3}
  - - {type: fuser, model: gpt-4o}
"""


def test_json_and_yaml_files_load_to_the_same_config(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(YAML, encoding="utf-8")
    from_yaml = load_config(tmp_path / "p.yaml")
    (tmp_path / "p.json").write_text(from_yaml.model_dump_json(), encoding="utf-8")
    (tmp_path / "p.yml").write_text(YAML, encoding="utf-8")
    assert load_config(tmp_path / "p.json") == from_yaml == load_config(tmp_path / "p.yml")
    assert from_yaml.name == "quickstart" and worst_case_calls(from_yaml) == 8
    clients = {name: ScriptedClient(name, ["4"]) for name in ("gpt-4o", "llama-70b")}
    assert Pipeline.load(tmp_path / "p.yaml", clients).config == from_yaml


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        pytest.param("p.yaml", "version: 1\nlayers: [[{type: generator\n", r"is not valid YAML", id="bad-yaml"),
        pytest.param("p.json", '{"version": 1, "layers": [', r"is not valid JSON: .*line 1", id="bad-json"),
        pytest.param("p.yaml", "- 1\n- 2\n", r"must be a mapping with `version` and `layers`", id="yaml-list"),
        pytest.param(
            "p.toml", "version = 1", r"has the suffix '\.toml'; use `\.json`, `\.yaml` or `\.yml`", id="suffix"
        ),
        pytest.param(
            "p.yaml",
            YAML.replace("top_k: 3", "topk: 3"),
            r"^Invalid pipeline config '.*p\.yaml': unknown key 'topk' in `layers\[2\]\[0\]` \(ranker\) "
            r"\(did you mean 'top_k'\?\)",
            id="misspelled-key-in-file",
        ),
    ],
)
def test_bad_files_say_what_is_wrong(tmp_path: Path, name: str, text: str, expected: str) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected):
        load_config(tmp_path / name)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Cannot read the pipeline config '.*nope\.yaml'"):
        Pipeline.load(tmp_path / "nope.yaml", {})


def test_a_file_is_checked_against_the_budget_given_in_code(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(YAML, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"the worst case is 8 calls .* `max_calls` of 7"):
        load_config(tmp_path / "p.yaml", budget=Budget(max_calls=7))
