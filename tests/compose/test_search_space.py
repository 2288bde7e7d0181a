"""The architecture search space: validation, pruning, canonical points, compiling to pipeline configs."""

from __future__ import annotations

import pytest
from routerkit.compose.config import PipelineConfig, worst_case_calls
from routerkit.compose.search_space import AXES, Point, SearchSpace
from routerkit.errors import ConfigError

MODELS = ("g1", "g2", "g3")


def small_space(**overrides: object) -> SearchSpace:
    fields: dict[str, object] = {
        "generators": MODELS,
        "samples": (1, 2, 4),
        "fusion_layers": (0, 1, 2),
        "fusers_per_layer": (2, 3),
        "fuser_models": ("f1", "f2"),
        "ranker_top_k": (2, 5),
        "critic_model": "judge",
        "ranker_model": "judge",
        "verifier_model": "judge",
        "max_fuser_inputs": 8,
    }
    fields.update(overrides)
    return SearchSpace(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"generators": ()}, "non-empty tuple of model names", id="no-generators"),
        pytest.param({"generators": ("a", "a")}, "names a model twice", id="duplicate-generator"),
        pytest.param({"generators": "g1"}, "must be a tuple of values", id="string-not-tuple"),
        pytest.param({"samples": (0, 1)}, "integers >= 1", id="zero-samples"),
        pytest.param({"samples": (1, 1)}, "repeats a value", id="repeated-value"),
        pytest.param({"fusion_layers": (-1,)}, "integers >= 0", id="negative-layers"),
        pytest.param({"critic": (True, True)}, "`SearchSpace.critic`", id="bool-repeated"),
        pytest.param({"ranker": (1,)}, "`SearchSpace.ranker`", id="bool-axis-int"),
        pytest.param({"samples": (True,)}, "integers >= 1", id="int-axis-bool"),
        pytest.param({"max_fuser_inputs": 0}, "max_fuser_inputs", id="no-fuser-inputs"),
    ],
)
def test_invalid_spaces_say_what_and_which(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        small_space(**overrides)


def test_lists_become_tuples_and_fusers_default_to_the_generators() -> None:
    space = SearchSpace(generators=["a", "b"], samples=[1, 3])  # type: ignore[arg-type]
    assert space.generators == ("a", "b")
    assert space.samples == (1, 3)
    assert space.fuser_models == ("a", "b")
    assert space.values("generators") == (1, 2)


def test_point_checks_axis_names_and_values() -> None:
    space = small_space()
    assert space.point(samples=4) == Point(1, 4, 0, 2, False, False, False, 2)
    with pytest.raises(ConfigError, match="Unknown axis 'sample'"):
        space.point(sample=2)
    with pytest.raises(ConfigError, match=r"3 is not a value of the axis `samples`; allowed: \[1, 2, 4\]"):
        space.point(samples=3)
    with pytest.raises(ConfigError, match="`critic`"):
        space.point(critic=1)


def test_compile_builds_the_documented_topology() -> None:
    space = small_space(generator_temperature=0.7, max_tokens=256)
    point = space.point(
        generators=2, samples=2, fusion_layers=2, fusers_per_layer=3, critic=True, ranker=True, verifier=True
    )
    config = space.compile(point, seed=7)
    gen = {"temperature": 0.7, "max_tokens": 256}
    tok = {"max_tokens": 256}
    assert config == {
        "version": 1,
        "name": "itas-g2s2l2f3k2-vcr",
        "seed": 7,
        "layers": [
            [
                {"type": "generator", "model": "g1", "samples": 2, **gen},
                {"type": "generator", "model": "g2", "samples": 2, **gen},
            ],
            [{"type": "critic", "model": "judge", **tok}],
            [{"type": "ranker", "model": "judge", "top_k": 2, **tok}],
            # Three fusers dealt round robin over two fuser models.
            [
                {"type": "fuser", "model": "f1", "samples": 2, **tok},
                {"type": "fuser", "model": "f2", "samples": 1, **tok},
            ],
            [{"type": "verifier", "model": "judge", **tok}],
            [{"type": "critic", "model": "judge", **tok}],
            [{"type": "ranker", "model": "judge", "top_k": 2, **tok}],
            [{"type": "fuser", "model": "f1", "samples": 1, **tok}],
        ],
    }


def test_without_fusion_layers_a_ranker_keeps_the_one_answer() -> None:
    space = small_space()
    config = space.compile(space.point(generators=3, ranker=True, ranker_top_k=5))
    assert config["layers"][-1] == [{"type": "ranker", "model": "judge", "top_k": 1}]  # type: ignore[index]
    # A single generator call needs nothing after it.
    assert space.compile(space.point())["layers"] == [[{"type": "generator", "model": "g1", "samples": 1}]]


def test_every_point_compiles_to_a_valid_config_with_the_same_worst_case() -> None:
    space = small_space()
    for point in space.points():
        config = PipelineConfig.model_validate(space.compile(point))
        assert worst_case_calls(config) == space.worst_case_calls(point), point


def test_pruning_follows_the_rules() -> None:
    space = small_space()
    # 3 generators x 4 samples = 12 candidates into a fuser: over max_fuser_inputs (8).
    wide = space.point(generators=3, samples=4, fusion_layers=1)
    assert space.violations(wide) == ["fusion stage 1 would be fed 12 candidates, over `max_fuser_inputs` (8)"]
    # A ranker in front keeps 5 of them: allowed.
    assert space.violations(space.point(generators=3, samples=4, fusion_layers=1, ranker=True, ranker_top_k=5)) == []
    # No fuser and no ranker: nothing picks one answer out of several, or reads the critiques.
    assert space.violations(space.point(generators=2))
    assert space.violations(space.point(critic=True))
    pruned = set(space.points())
    assert space.canonical(wide) not in pruned
    with pytest.raises(ConfigError, match="is pruned from the space: fusion stage 1 would be fed 12"):
        space.compile(wide)


def test_equivalent_points_are_one_point() -> None:
    space = small_space()
    # Fusers per layer only matter with two or more fusion stages; top-k only with a ranker before a fuser.
    a = space.point(fusion_layers=1, fusers_per_layer=3, ranker_top_k=5)
    b = space.point(fusion_layers=1, fusers_per_layer=2, ranker_top_k=2)
    assert space.canonical(a) == space.canonical(b) == b
    assert space.compile(a) == space.compile(b)
    points = space.points()
    assert len(points) == len(set(points)) == space.size
    assert all(space.canonical(p) == p for p in points)
    assert len({str(space.compile(p)) for p in points}) == space.size
    assert space.size < space.raw_size == 3 * 3 * 3 * 2 * 2 * 2 * 2 * 2


def test_worst_case_calls_counts_each_component() -> None:
    space = small_space()
    # 2x2 generated, verifier 4, critic 1, ranker 1 (keeps 2), final fuser 1.
    point = space.point(generators=2, samples=2, fusion_layers=1, critic=True, ranker=True, verifier=True)
    assert space.worst_case_calls(point) == 4 + 4 + 1 + 1 + 1
    # A single candidate needs no ranking call.
    assert space.worst_case_calls(space.point(ranker=True)) == 1


def test_labels_are_short_and_distinct() -> None:
    space = small_space()
    labels = {p.label() for p in space.points()}
    assert len(labels) == space.size
    assert space.point(generators=2, fusion_layers=2, fusers_per_layer=3, ranker=True).label() == "g2·s1·L2·f3 +ranker2"
    assert set(space.point().as_dict()) == set(AXES)
