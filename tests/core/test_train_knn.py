"""The `knn` head: the numpy reference by hand, NaN masking, ONNX parity and batch invariance, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from routerkit.errors import ConfigError
from routerkit.runtime.session import create_session
from routerkit.train.export import HEAD_INPUT
from routerkit.train.knn import KNN_OUTPUT, export_knn, knn_head, knn_parity, predict

NAN = float("nan")
# Four stored prompts on the unit circle at 0°, 10°, 90° and 180°; two models.
ANGLES = np.deg2rad([0.0, 10.0, 90.0, 180.0])
STORED = np.stack([np.cos(ANGLES), np.sin(ANGLES)], axis=1).astype(np.float32)
SCORES = np.array([[1.0, 0.0], [0.0, NAN], [1.0, 1.0], [0.0, 1.0]])


def _random(n: int, dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def test_mean_of_the_nearest_outcomes_by_hand() -> None:
    head = knn_head(STORED, SCORES, k=2, weighting="mean")
    # A query at 5° (not normalised: the head normalises) is nearest to the 0° and 10° prompts.
    query = 3.0 * np.array([[np.cos(np.deg2rad(5.0)), np.sin(np.deg2rad(5.0))]], dtype=np.float32)
    out = predict(head, query)[0]
    assert out[0] == pytest.approx(0.5)  # (1 + 0) / 2
    assert out[1] == pytest.approx(0.0, abs=1e-5)  # only the 0° prompt has model 1's outcome: 0


def test_similarity_weighting_by_hand() -> None:
    head = knn_head(STORED, SCORES, k=2, weighting="similarity")
    query = np.array([[1.0, 0.0]], dtype=np.float32)  # cos = 1 to 0°, cos 10° ≈ 0.9848 to 10°
    cos10 = float(np.float16(np.cos(np.deg2rad(10.0))))  # the bank is stored as float16
    assert predict(head, query)[0, 0] == pytest.approx(1.0 / (1.0 + cos10), abs=1e-4)


def test_a_model_no_neighbour_has_falls_back_to_its_mean() -> None:
    scores = SCORES.copy()
    scores[:2, 1] = NAN  # the 0° and 10° prompts have no outcome for model 1; its mean elsewhere is 1
    head = knn_head(STORED, scores, k=2, weighting="mean")
    assert predict(head, STORED[:1])[0, 1] == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("weighting", ["mean", "similarity"])
def test_onnx_matches_the_numpy_reference_and_is_batch_invariant(tmp_path: Path, weighting: str) -> None:
    scores = (np.random.default_rng(1).random((300, 5)) > 0.5).astype(np.float64)
    scores[:40, 3] = NAN
    head = knn_head(_random(300, 24, 0), scores, k=7, weighting=weighting)  # type: ignore[arg-type]
    export_knn(head, tmp_path / "head.onnx")
    queries = _random(50, 24, 2)
    diff = knn_parity(head, tmp_path / "head.onnx", queries)
    print(f"knn {weighting}: numpy vs onnxruntime max |Δ| = {diff:.2e}")
    assert diff <= 1e-5
    session = create_session(tmp_path / "head.onnx", device="cpu", threads=1)
    (batched,) = session.run([KNN_OUTPUT], {HEAD_INPUT: queries})
    alone = np.concatenate([session.run([KNN_OUTPUT], {HEAD_INPUT: q[None]})[0] for q in queries])
    assert np.max(np.abs(batched - alone)) <= 1e-6


def test_stored_prompts_are_a_seeded_subsample() -> None:
    emb, scores = _random(100, 8, 3), np.zeros((100, 2))
    first = knn_head(emb, scores, k=3, weighting="mean", max_stored=30, seed=5)
    again = knn_head(emb, scores, k=3, weighting="mean", max_stored=30, seed=5)
    assert first.bank.shape == (30, 8) and first.bank.dtype == np.float16
    np.testing.assert_array_equal(first.bank, again.bank)


@pytest.mark.parametrize("k", [0, 5])
def test_k_outside_the_stored_prompts_is_refused(k: int) -> None:
    with pytest.raises(ConfigError, match=rf"k={k}"):
        knn_head(STORED, SCORES, k=k, weighting="mean")


def test_misaligned_rows_are_refused() -> None:
    with pytest.raises(ConfigError, match="aligned"):
        knn_head(STORED, SCORES[:3], k=1, weighting="mean")
