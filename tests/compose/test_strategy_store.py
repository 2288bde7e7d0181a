"""`StrategyStore` (real MiniLM encoder, SQLite) and the strategy prompts: writing, parsing, injecting."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from routerkit.compose.strategies import Strategy, StrategyStore, embedder_fingerprint
from routerkit.compose.strategy_prompts import (
    SAME_CALL_PROMPT,
    augment_messages,
    parse_strategy_reply,
    same_call_messages,
    separate_call_messages,
)
from routerkit.errors import ConfigError
from routerkit.routers.registry import load_encoder
from routerkit.runtime.encoder import Encoder

APPLES = "Tom has 3 apples and buys 5 more. How many apples does he have now?"
PEARS = "Anna has 7 pears and buys 2 more. How many pears does she have now?"
APPLES_REWORDED = "Tom has 3 apples and buys 5 more. How many apples does Tom have now?"
SPEED = "A train travels 60 km in 1.5 hours. What is its average speed?"
CAPITAL = "What is the capital of France?"
ADD = "Add the amount bought to the amount at the start."
DIVIDE = "Average speed is distance divided by time."


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    """The packaged MiniLM encoder (real ONNX, a few ms per query)."""
    return load_encoder("minilm_l6")


@pytest.fixture
def store(encoder: Encoder) -> StrategyStore:
    return StrategyStore(embedder=encoder)


class TableEmbedder:
    """A tiny deterministic embedder: each text's vector is looked up; unknown texts get a fixed one."""

    def __init__(self, vectors: dict[str, list[float]], fingerprint: str = "table-v1") -> None:
        self.vectors = vectors
        self.fingerprint = fingerprint

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.array([self.vectors.get(text, [0.0, 0.0, 1.0]) for text in texts], dtype=np.float32)


# -- adding and searching ----------------------------------------------------------------------------


def test_a_similar_query_finds_the_strategy_and_an_unrelated_one_does_not(store: StrategyStore) -> None:
    added = store.add(APPLES, ADD, "8", "strong")
    ((found, similarity),) = store.search(PEARS, k=2, min_similarity=0.5)
    assert found.id == added.id and found.strategy == ADD
    assert 0.5 <= similarity < 0.95  # a templated variant: similar, not a duplicate
    assert store.search(CAPITAL, k=2, min_similarity=0.5) == []


def test_search_returns_the_k_most_similar_in_order(store: StrategyStore) -> None:
    store.add(APPLES, ADD, "8", "strong")
    store.add(SPEED, DIVIDE, "40 km/h", "strong")
    results = store.search(PEARS, k=2, min_similarity=-1.0)
    assert [s.query for s, _ in results] == [APPLES, SPEED]
    assert results[0][1] > results[1][1]
    assert len(store.search(PEARS, k=1, min_similarity=-1.0)) == 1


def test_hits_are_counted_unless_asked_not_to(store: StrategyStore) -> None:
    added = store.add(APPLES, ADD, "8", "strong")
    store.search(PEARS, count_hits=False)
    assert store.get(added.id) == added  # hits still 0
    ((found, _),) = store.search(PEARS)
    assert found.hits == 1
    store.record_hits([added.id, "unknown"])
    stored = store.get(added.id)
    assert stored is not None and stored.hits == 2


def test_an_empty_store_finds_nothing(store: StrategyStore) -> None:
    assert store.search(APPLES) == [] and len(store) == 0


def test_a_near_duplicate_query_returns_the_existing_strategy(store: StrategyStore) -> None:
    first = store.add(APPLES, ADD, "8", "strong")
    again = store.add(APPLES_REWORDED, "Count everything twice.", "8", "strong")
    assert again == first  # the older one is kept, unchanged
    assert (len(store), store.duplicates) == (1, 1)
    store.add(PEARS, ADD, "9", "strong")  # a variant with other numbers is not a duplicate
    assert len(store) == 2


def test_dedup_at_one_drops_only_identical_queries(encoder: Encoder) -> None:
    store = StrategyStore(embedder=encoder, dedup_similarity=1.0)
    store.add(APPLES, ADD, "8", "strong")
    store.add(APPLES_REWORDED, ADD, "8", "strong")
    assert len(store) == 2


def test_a_chosen_id_tells_the_caller_whether_it_was_stored(store: StrategyStore) -> None:
    assert store.add(APPLES, ADD, "8", "strong", strategy_id="mine").id == "mine"
    assert store.add(APPLES_REWORDED, ADD, "8", "strong", strategy_id="other").id == "mine"
    with pytest.raises(ConfigError, match="'mine' is already stored"):
        store.add(SPEED, DIVIDE, "40", "strong", strategy_id="mine")


# -- capacity and eviction ---------------------------------------------------------------------------


def test_lru_evicts_the_least_recently_retrieved(store: StrategyStore) -> None:
    store.capacity = 2
    apples = store.add(APPLES, ADD, "8", "strong")
    speed = store.add(SPEED, DIVIDE, "40", "strong")
    store.search(PEARS, k=1)  # uses the apples strategy: the speed one is now least recently used
    capital = store.add(CAPITAL, "Recall the country's capital city.", "Paris", "strong")
    assert [s.id for s in store] == [apples.id, capital.id]
    assert store.get(speed.id) is None and store.evictions == 1


def test_lru_ties_go_by_age(encoder: Encoder) -> None:
    store = StrategyStore(embedder=encoder, capacity=2)
    apples = store.add(APPLES, ADD, "8", "strong")
    speed = store.add(SPEED, DIVIDE, "40", "strong")
    store.search(PEARS, k=2, min_similarity=-1.0)  # both used in one search: tied
    store.add(CAPITAL, "Recall the capital.", "Paris", "strong")
    assert store.get(apples.id) is None and store.get(speed.id) is not None


def test_fifo_evicts_the_oldest(encoder: Encoder) -> None:
    store = StrategyStore(embedder=encoder, capacity=2, eviction="fifo")
    apples = store.add(APPLES, ADD, "8", "strong")
    store.add(SPEED, DIVIDE, "40", "strong")
    store.search(PEARS)  # recency does not matter to fifo
    store.add(CAPITAL, "Recall the capital.", "Paris", "strong")
    assert store.get(apples.id) is None and len(store) == 2


# -- persistence -------------------------------------------------------------------------------------


def test_strategies_survive_a_restart(tmp_path: Path, encoder: Encoder) -> None:
    path = tmp_path / "strategies.sqlite"
    with StrategyStore(path, embedder=encoder) as store:
        added = store.add(APPLES, ADD, "8", "strong", source="tenant-a")
        store.search(PEARS)
    with StrategyStore(path, embedder=encoder) as reopened:
        ((found, similarity),) = reopened.search(PEARS)
        assert (found.id, found.strategy, found.answer, found.source) == (added.id, ADD, "8", "tenant-a")
        assert found.hits == 2 and similarity > 0.5


def test_lru_recency_survives_a_restart(tmp_path: Path, encoder: Encoder) -> None:
    path = tmp_path / "strategies.sqlite"
    with StrategyStore(path, embedder=encoder) as store:
        apples = store.add(APPLES, ADD, "8", "strong")
        speed = store.add(SPEED, DIVIDE, "40", "strong")
        store.search(PEARS, k=1)
    with StrategyStore(path, embedder=encoder, capacity=1) as smaller:  # over capacity at open: evicts
        assert [s.id for s in smaller] == [apples.id]
        assert smaller.get(speed.id) is None


def test_the_file_holds_float32_vectors_and_the_embedder(tmp_path: Path, encoder: Encoder) -> None:
    path = tmp_path / "strategies.sqlite"
    with StrategyStore(path, embedder=encoder) as store:
        store.add(APPLES, ADD, "8", "strong")
    with sqlite3.connect(path) as db:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        (blob,) = db.execute("SELECT embedding FROM strategies").fetchone()
    assert meta["fingerprint"] == embedder_fingerprint(encoder) and meta["fingerprint"].startswith("minilm_l6@")
    assert meta["dimension"] == "384" and len(blob) == 384 * 4


def test_reopening_with_another_embedder_is_refused(tmp_path: Path, encoder: Encoder) -> None:
    path = tmp_path / "strategies.sqlite"
    with StrategyStore(path, embedder=TableEmbedder({APPLES: [1.0, 0.0, 0.0]})) as store:
        store.add(APPLES, ADD, "8", "strong")
    with pytest.raises(ConfigError, match=r"embedder 'table-v1' \(dimension 3\).*'minilm_l6@.*\(dimension 384\)"):
        StrategyStore(path, embedder=encoder)
    with pytest.raises(ConfigError, match="'table-v2'"):
        StrategyStore(path, embedder=TableEmbedder({}, fingerprint="table-v2"))
    with StrategyStore(path, embedder=TableEmbedder({})) as same:  # the same embedder opens it
        assert len(same) == 1


def test_a_path_that_is_not_a_store_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot open the strategy store"):
        StrategyStore(tmp_path / "missing-folder" / "s.sqlite")
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("hello, this is not SQLite" * 100)
    with pytest.raises(ConfigError, match="file is not a database"):
        StrategyStore(not_a_database)


def test_a_closed_store_says_so(store: StrategyStore) -> None:
    store.close()
    store.close()  # harmless
    with pytest.raises(ConfigError, match="is closed"):
        store.add(APPLES, ADD, "8", "strong")


# -- deletion ----------------------------------------------------------------------------------------


def test_delete_one_and_by_source(store: StrategyStore) -> None:
    apples = store.add(APPLES, ADD, "8", "strong", source="tenant-a")
    store.add(SPEED, DIVIDE, "40", "strong", source="tenant-b")
    store.add(CAPITAL, "Recall the capital.", "Paris", "strong", source="tenant-b")
    assert store.delete_by_source("tenant-b") == 2
    assert store.delete("nope") is False
    assert store.delete(apples.id) is True
    assert len(store) == 0 and store.search(PEARS, min_similarity=-1.0) == []


def test_deletions_are_persisted(tmp_path: Path, encoder: Encoder) -> None:
    path = tmp_path / "strategies.sqlite"
    with StrategyStore(path, embedder=encoder) as store:
        store.add(APPLES, ADD, "8", "strong", source="gone")
        kept = store.add(SPEED, DIVIDE, "40", "strong")
        store.delete_by_source("gone")
    with StrategyStore(path, embedder=encoder) as reopened:
        assert [s.id for s in reopened] == [kept.id]


# -- threads and arguments ---------------------------------------------------------------------------


def test_concurrent_adds_and_searches_stay_consistent(tmp_path: Path) -> None:
    vectors = {f"q{i}": [float(i == j) for j in range(16)] for i in range(16)}
    store = StrategyStore(tmp_path / "s.sqlite", embedder=TableEmbedder(vectors, "onehot"), capacity=100)

    def work(i: int) -> None:
        store.add(f"q{i}", f"strategy {i}", "a", "strong")
        store.search(f"q{i}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store) == 16 and all(s.hits == 1 for s in store)
    store.close()
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        assert db.execute("SELECT COUNT(*), SUM(hits) FROM strategies").fetchone() == (16, 16)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"capacity": 0}, "capacity", id="capacity"),
        pytest.param({"dedup_similarity": 0.0}, "dedup_similarity", id="dedup"),
        pytest.param({"eviction": "random"}, "eviction", id="eviction"),
        pytest.param({"embedder": object()}, "embed", id="embedder"),
    ],
)
def test_bad_settings_are_config_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        StrategyStore(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"k": 0}, "`k`", id="k"),
        pytest.param({"min_similarity": 1.5}, "min_similarity", id="floor"),
        pytest.param({"query": " "}, "`query`", id="empty-query"),
    ],
)
def test_bad_searches_are_config_errors(store: StrategyStore, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        store.search(**{"query": APPLES, **kwargs})  # type: ignore[arg-type]


def test_an_embedder_with_the_wrong_shape_is_refused() -> None:
    class Broken:
        def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
            return np.zeros((len(texts) + 1, 3), dtype=np.float32)

    with pytest.raises(ConfigError, match="one row per text"):
        StrategyStore(embedder=Broken()).add(APPLES, ADD, "8", "strong")


# -- the strategy prompts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "answer", "strategy"),
    [
        pytest.param("ANSWER:\n8\nSTRATEGY:\nAdd them.", "8", "Add them.", id="plain"),
        pytest.param("**Answer:** 8\n\n**Strategy:**\n1. Add.\n2. Done.", "8", "1. Add.\n2. Done.", id="bold"),
        pytest.param("## Answer\n8\n## Strategy\nAdd them.", "8", "Add them.", id="headings"),
        pytest.param("8\nstrategy: Add them.", "8", "Add them.", id="no-answer-tag"),
        pytest.param("The answer is 8.", "The answer is 8.", None, id="no-tags"),
        pytest.param("ANSWER: 8\nSTRATEGY:   ", "8", None, id="empty-strategy"),
        pytest.param("Answer the question: 8", "Answer the question: 8", None, id="word-not-tag"),
    ],
)
def test_parse_strategy_reply(reply: str, answer: str, strategy: str | None) -> None:
    parsed = parse_strategy_reply(reply)
    assert (parsed.answer, parsed.strategy) == (answer, strategy)


def _strategy(sid: str, text: str) -> Strategy:
    return Strategy(sid, "q", text, "a", "strong", "test", 0.0)


def test_strategies_prefix_the_last_user_turn_and_leave_the_rest() -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": PEARS}]
    augmented, used = augment_messages(messages, [_strategy("s1", ADD), _strategy("s2", DIVIDE)])
    assert used == ("s1", "s2")
    assert augmented[0] == messages[0] and messages[1]["content"] == PEARS  # the caller's list is untouched
    content = augmented[1]["content"]
    assert content.index(f"[Strategy 1] {ADD}") < content.index(f"[Strategy 2] {DIVIDE}") < content.index(PEARS)
    assert content.endswith(f"Problem:\n{PEARS}")


def test_the_character_budget_drops_or_cuts_strategies() -> None:
    user = [{"role": "user", "content": PEARS}]
    _, used = augment_messages(user, [_strategy("s1", ADD), _strategy("s2", DIVIDE)], max_chars=len(ADD) + 5)
    assert used == ("s1",)
    augmented, used = augment_messages(user, [_strategy("long", "x" * 100)], max_chars=20)
    assert used == ("long",) and f"[Strategy 1] {'x' * 19}…\n" in augmented[0]["content"]
    unchanged, used = augment_messages(user, [])
    assert (unchanged, used) == (user, ())


def test_augmenting_messages_without_a_user_turn_is_refused() -> None:
    with pytest.raises(ConfigError, match="no user turn"):
        augment_messages([{"role": "system", "content": "x"}], [_strategy("s1", ADD)])


def test_the_writer_prompts_carry_the_question_and_answer() -> None:
    (same,) = same_call_messages([{"role": "user", "content": APPLES}])
    assert same["content"] == APPLES + SAME_CALL_PROMPT and "STRATEGY:" in same["content"]
    (separate,) = separate_call_messages(APPLES, "8")
    assert f"Problem:\n{APPLES}\n\nAnswer:\n8" in separate["content"]
    assert "Do not include this problem's specific numbers" in separate["content"]
