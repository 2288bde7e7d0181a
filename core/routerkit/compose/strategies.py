"""`StrategyStore`: the strategies a strong model wrote, kept with embeddings of their queries in SQLite.

Matching is specified, not left to chance:

- **Embedder.** routerkit's packaged MiniLM (`minilm_l6`, 384-d) unless another is given; any object with
  `embed(texts) -> ndarray[n, d]` works. Vectors are L2-normalised on the way in, so the score is the
  **cosine similarity** of the new query to a stored strategy's query.
- **Retrieval.** `search(query, k=2, min_similarity=0.5)`: the `k` most similar strategies whose cosine
  is at least the floor (ties: the older first). MiniLM scores templated variants of one problem
  ("Tom has 3 apples..." / "Anna has 7 pears...") around 0.6-0.7 and unrelated questions below 0.25.
- **De-duplication.** `add` compares the new query with every stored one; at cosine ≥ `dedup_similarity`
  (0.95: a rewording of the same question) nothing is added and the *existing* strategy is returned. The
  older one is kept because it may already have been retrieved and helped, and results refer to its id.
- **Capacity.** Over `capacity`, strategies are evicted: `"lru"` (least recently retrieved first; a
  strategy never retrieved counts as used when added; ties by age) or `"fifo"` (oldest first).
- **Provenance.** Each strategy has a `source` tag; `delete_by_source` erases everything from one
  source (e.g. a tenant or a data set that must be forgotten).

The file records the embedder's fingerprint and dimension; opening it with a different embedder raises
`ConfigError` rather than mixing vectors from two spaces. Search is one matrix product over an in-memory
copy of the vectors, loaded at open. One connection and one lock serve all threads.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from routerkit.errors import ConfigError

__all__ = ["Embedder", "Strategy", "StrategyStore", "embedder_fingerprint"]

Vectors = npt.NDArray[np.float32]
Eviction = Literal["lru", "fifo"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS strategies (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    query TEXT NOT NULL,
    strategy TEXT NOT NULL,
    answer TEXT NOT NULL,
    model TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at REAL NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,
    last_used INTEGER NOT NULL,
    embedding BLOB NOT NULL
);
"""
_COLUMNS = "id, query, strategy, answer, model, source, created_at, hits, last_used, seq"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors; routerkit's `Encoder` (from `load_encoder`) is one."""

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """`float32[len(texts), dim]` embeddings."""
        ...


def embedder_fingerprint(embedder: object) -> str:
    """What identifies an embedder's vector space in a store file.

    A routerkit `Encoder` gives its name and model sha256; another object its `fingerprint` attribute
    (a string, or a method returning one) if it has one, else its class's qualified name. Give custom
    embedders a `fingerprint` that changes whenever their vectors would.
    """
    manifest, sha256 = getattr(embedder, "manifest", None), getattr(embedder, "sha256", None)
    if manifest is not None and isinstance(sha256, str):
        return f"{getattr(manifest, 'name', 'encoder')}@{sha256[:16]}"
    given = getattr(embedder, "fingerprint", None)
    if callable(given):
        given = given()
    if isinstance(given, str) and given:
        return given
    kind = type(embedder)
    return f"{kind.__module__}.{kind.__qualname__}"


@dataclass(frozen=True)
class Strategy:
    """A reusable strategy a strong model wrote for a query it answered."""

    id: str
    query: str
    """The query it was written for (what new queries are matched against)."""
    strategy: str
    """The general idea or steps, meant to help a weaker model on similar queries."""
    answer: str
    """The strong model's answer to `query`."""
    model: str
    """The model that wrote it."""
    source: str
    """Provenance tag (e.g. `"cascade"`, a tenant or a data set), for `delete_by_source`."""
    created_at: float
    """Unix time it was added."""
    hits: int = 0
    """How many times `search` returned it (with `count_hits=True`) or `record_hits` counted it."""


@dataclass
class _Row:
    strategy: Strategy
    last_used: int
    seq: int


class StrategyStore:
    """Strategies with embeddings of their queries, persisted in SQLite; see the module docstring.

    Args:
        path: an SQLite file (created if missing) or `":memory:"`.
        embedder: turns queries into vectors; None loads routerkit's `minilm_l6` encoder on first use.
        capacity: the most strategies kept; adding one more evicts per `eviction`.
        dedup_similarity: cosine at or above which a new query is a duplicate of a stored one.
        eviction: `"lru"` (least recently retrieved) or `"fifo"` (oldest).

    Raises:
        ConfigError: for invalid arguments, or a file written with a different embedder.
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        embedder: Embedder | None = None,
        capacity: int = 1000,
        dedup_similarity: float = 0.95,
        eviction: Eviction = "lru",
    ) -> None:
        _check_settings(capacity, dedup_similarity, eviction, embedder)
        self.path = str(path)
        self.capacity = capacity
        self.dedup_similarity = float(dedup_similarity)
        self.eviction: Eviction = eviction
        self.evictions = 0
        """Strategies evicted for capacity since the store was opened."""
        self.duplicates = 0
        """`add` calls answered with an existing near-duplicate since the store was opened."""
        self._embedder = embedder
        self._lock = threading.RLock()
        self._rows: list[_Row] = []
        self._matrix: Vectors = np.zeros((0, 0), dtype=np.float32)
        self._connection: sqlite3.Connection | None = _open(self.path)
        self._tick = 0
        stored = self._meta("dimension")
        self._dimension: int | None = None if stored is None else int(stored)
        if self._dimension is not None:
            self._check_embedder(getattr(self.embedder, "dim", None))
            self._load()
            self._evict()

    # -- public API --------------------------------------------------------------------------------

    def add(
        self,
        query: str,
        strategy: str,
        answer: str,
        model: str,
        *,
        source: str = "cascade",
        strategy_id: str | None = None,
    ) -> Strategy:
        """Store a strategy, or return the stored near-duplicate of its query (which is kept unchanged).

        Args:
            query: the query the strategy was written for.
            strategy: the strategy text.
            answer: the strong model's answer to `query`.
            model: the model that wrote it.
            source: provenance tag, for `delete_by_source`.
            strategy_id: the id to give it (default: a new random one). A caller that compares the
                returned id with the one it chose knows whether its strategy was stored.

        Raises:
            ConfigError: if a text is empty or `strategy_id` is already taken.
        """
        _check_texts(query=query, strategy=strategy, model=model, source=source)
        with self._lock:
            if strategy_id is not None and self._index(strategy_id) is not None:
                raise ConfigError(f"A strategy with id {strategy_id!r} is already stored; choose another id.")
            vector = self._vectors_of([query])[0]
            duplicate = self._nearest(vector)
            if duplicate is not None and duplicate[1] >= self.dedup_similarity:
                self.duplicates += 1
                return self._rows[duplicate[0]].strategy
            new = Strategy(strategy_id or uuid.uuid4().hex, query, strategy, answer, model, source, time.time())
            self._insert(new, vector)
            self._evict()
            return new

    def search(
        self, query: str, k: int = 2, min_similarity: float = 0.5, *, count_hits: bool = True
    ) -> list[tuple[Strategy, float]]:
        """The `k` strategies whose queries are most similar to `query`, at cosine ≥ `min_similarity`.

        Args:
            query: the new query.
            k: how many at most.
            min_similarity: the similarity floor, in [-1, 1].
            count_hits: count the returned strategies as used (hits and LRU recency); pass False when
                only some will be used, and call `record_hits` for those.

        Returns:
            (strategy, cosine) pairs, most similar first; with `count_hits`, the strategies carry their
            updated `hits`.

        Raises:
            ConfigError: for an empty query, `k` < 1 or a floor outside [-1, 1].
        """
        _check_texts(query=query)
        _check_search(k, min_similarity)
        with self._lock:
            if not self._rows:
                return []
            similarities = self._matrix @ self._vectors_of([query])[0]
            order = np.argsort(-similarities, kind="stable")[:k]
            chosen = [int(i) for i in order if similarities[i] >= min_similarity]
            if count_hits:
                self._hit(chosen)
            return [(self._rows[i].strategy, float(similarities[i])) for i in chosen]

    def record_hits(self, ids: Sequence[str]) -> None:
        """Count the strategies with these ids as used once (hits and LRU recency); unknown ids are skipped."""
        with self._lock:
            wanted = set(ids)
            self._hit([i for i, row in enumerate(self._rows) if row.strategy.id in wanted])

    def get(self, strategy_id: str) -> Strategy | None:
        """The strategy with this id, or None."""
        with self._lock:
            index = self._index(strategy_id)
            return None if index is None else self._rows[index].strategy

    def strategies(self) -> list[Strategy]:
        """Every stored strategy, oldest first."""
        with self._lock:
            return [row.strategy for row in self._rows]

    def delete(self, strategy_id: str) -> bool:
        """Delete one strategy; False if no strategy has this id."""
        with self._lock:
            index = self._index(strategy_id)
            if index is None:
                return False
            self._remove([index])
            return True

    def delete_by_source(self, source: str) -> int:
        """Delete every strategy tagged with `source` (erasure by provenance); returns how many."""
        with self._lock:
            indices = [i for i, row in enumerate(self._rows) if row.strategy.source == source]
            self._remove(indices)
            return len(indices)

    def __len__(self) -> int:
        """How many strategies are stored."""
        return len(self._rows)

    def __iter__(self) -> Iterator[Strategy]:
        """The stored strategies, oldest first."""
        return iter(self.strategies())

    def __repr__(self) -> str:
        """Path, size and capacity."""
        return f"StrategyStore({self.path!r}, strategies={len(self)}, capacity={self.capacity})"

    def close(self) -> None:
        """Close the SQLite connection (every change is already committed). Closing twice is harmless."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __enter__(self) -> StrategyStore:
        """Use the store in a `with` block that closes it."""
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        """Close the store."""
        self.close()

    # -- embeddings ---------------------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        """The embedder, loading routerkit's `minilm_l6` encoder on first use when none was given."""
        if self._embedder is None:
            from routerkit.routers.registry import load_encoder

            self._embedder = load_encoder("minilm_l6")
        return self._embedder

    def _vectors_of(self, texts: list[str]) -> Vectors:
        vectors = np.asarray(self.embedder.embed(texts), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ConfigError(
                f"The embedder returned shape {vectors.shape} for {len(texts)} texts; "
                "`embed` must return one row per text."
            )
        if self._dimension is None:
            self._write_meta(vectors.shape[1])
        elif vectors.shape[1] != self._dimension:
            self._mismatch(self._meta("fingerprint"), self._dimension, vectors.shape[1])
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.where(norms == 0.0, np.float32(1.0), norms)).astype(np.float32)

    def _check_embedder(self, dimension: object) -> None:
        stored = self._meta("fingerprint")
        same_dimension = not isinstance(dimension, int) or dimension == self._dimension
        if stored != embedder_fingerprint(self.embedder) or not same_dimension:
            self._mismatch(stored, self._dimension, dimension)

    def _mismatch(self, stored: str | None, stored_dimension: int | None, dimension: object) -> None:
        current = embedder_fingerprint(self.embedder)
        shown = dimension if isinstance(dimension, int) else "unknown"
        raise ConfigError(
            f"The strategy store {self.path!r} holds vectors from embedder {stored!r} (dimension "
            f"{stored_dimension}), but it was opened with {current!r} (dimension {shown}). Vectors from "
            "different embedders cannot be compared: open it with the embedder it was built with, or use a "
            "new file."
        )

    def _nearest(self, vector: Vectors) -> tuple[int, float] | None:
        if not self._rows:
            return None
        similarities = self._matrix @ vector
        index = int(np.argmax(similarities))
        return index, float(similarities[index])

    # -- SQLite and the in-memory copy --------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ConfigError(f"The strategy store {self.path!r} is closed; open it again with `StrategyStore(path)`.")
        return self._connection

    def _meta(self, key: str) -> str | None:
        row = self._db().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _write_meta(self, dimension: int) -> None:
        values = {"fingerprint": embedder_fingerprint(self.embedder), "dimension": str(dimension), "schema": "1"}
        with self._db() as db:
            db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", values.items())
        self._dimension = dimension
        self._matrix = np.zeros((0, dimension), dtype=np.float32)

    def _load(self) -> None:
        dimension = self._dimension or 0
        rows = self._db().execute(f"SELECT {_COLUMNS}, embedding FROM strategies ORDER BY seq").fetchall()
        self._rows = [_Row(Strategy(*row[:8]), last_used=row[8], seq=row[9]) for row in rows]
        blobs = [np.frombuffer(row[10], dtype=np.float32) for row in rows]
        self._matrix = np.vstack(blobs) if blobs else np.zeros((0, dimension), dtype=np.float32)
        self._tick = max((row.last_used for row in self._rows), default=0)

    def _insert(self, strategy: Strategy, vector: Vectors) -> None:
        self._tick += 1
        with self._db() as db:
            cursor = db.execute(
                "INSERT INTO strategies (id, query, strategy, answer, model, source, created_at, hits, last_used, "
                "embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*_fields(strategy), self._tick, vector.astype(np.float32).tobytes()),
            )
        self._rows.append(_Row(strategy, self._tick, int(cursor.lastrowid or 0)))
        self._matrix = np.vstack([self._matrix, vector[None, :]])

    def _hit(self, indices: list[int]) -> None:
        if not indices:
            return
        self._tick += 1  # one use event: strategies retrieved together share it (ties then go by age)
        for index in indices:
            row = self._rows[index]
            row.strategy = replace(row.strategy, hits=row.strategy.hits + 1)
            row.last_used = self._tick
        with self._db() as db:
            db.executemany(
                "UPDATE strategies SET hits = ?, last_used = ? WHERE id = ?",
                [(self._rows[i].strategy.hits, self._tick, self._rows[i].strategy.id) for i in indices],
            )

    def _evict(self) -> None:
        excess = len(self._rows) - self.capacity
        if excess <= 0:
            return
        if self.eviction == "lru":
            order = sorted(range(len(self._rows)), key=lambda i: (self._rows[i].last_used, self._rows[i].seq))
        else:
            order = sorted(range(len(self._rows)), key=lambda i: self._rows[i].seq)
        self._remove(order[:excess])
        self.evictions += excess

    def _remove(self, indices: list[int]) -> None:
        if not indices:
            return
        gone = set(indices)
        with self._db() as db:
            db.executemany("DELETE FROM strategies WHERE id = ?", [(self._rows[i].strategy.id,) for i in gone])
        keep = [i for i in range(len(self._rows)) if i not in gone]
        self._rows = [self._rows[i] for i in keep]
        self._matrix = self._matrix[keep]

    def _index(self, strategy_id: str) -> int | None:
        return next((i for i, row in enumerate(self._rows) if row.strategy.id == strategy_id), None)


def _open(path: str) -> sqlite3.Connection:
    try:
        connection = sqlite3.connect(path, check_same_thread=False)
        # WAL with synchronous=NORMAL: a commit no longer waits for a disk flush (a hit is recorded on
        # every search); a crash of the process loses nothing, a power cut at most the last commits.
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        with connection:
            connection.executescript(_SCHEMA)
    except sqlite3.Error as exc:
        raise ConfigError(
            f"Cannot open the strategy store {path!r} as an SQLite database ({exc}). Check that its folder "
            "exists and is writable and that the file is a store written by `StrategyStore`, or pass another path."
        ) from exc
    return connection


def _fields(strategy: Strategy) -> tuple[object, ...]:
    s = strategy
    return (s.id, s.query, s.strategy, s.answer, s.model, s.source, s.created_at, s.hits)


def _check_settings(capacity: int, dedup_similarity: float, eviction: str, embedder: object) -> None:
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise ConfigError(f"`capacity` must be an integer >= 1, got {capacity!r}.")
    if not isinstance(dedup_similarity, int | float) or not 0.0 < dedup_similarity <= 1.0:
        raise ConfigError(
            f"`dedup_similarity` must be a cosine in (0, 1], got {dedup_similarity!r}; 1.0 drops only "
            "identical queries, 0.95 also close rewordings."
        )
    if eviction not in ("lru", "fifo"):
        raise ConfigError(f"`eviction` must be 'lru' or 'fifo', got {eviction!r}.")
    if embedder is not None and not isinstance(embedder, Embedder):
        raise ConfigError(f"`embedder` must have an `embed(texts)` method, got {type(embedder).__name__}.")


def _check_search(k: int, min_similarity: float) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"`k` must be an integer >= 1, got {k!r}.")
    if not isinstance(min_similarity, int | float) or not -1.0 <= min_similarity <= 1.0:
        raise ConfigError(f"`min_similarity` must be a cosine in [-1, 1], got {min_similarity!r}.")


def _check_texts(**texts: object) -> None:
    for name, text in texts.items():
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"`{name}` must be a non-empty string, got {text!r:.80}.")
