"""Read and validate one dataset folder into an `OutcomeTable`.

Every malformed row raises `DataFormatError` naming the file, the line and the field, so a user's own
data can be fixed from the message alone.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from routerkit._env import data_dir
from routerkit.errors import DataFormatError, UnknownNameError

__all__ = ["SPLITS", "OutcomeTable", "Prompt", "list_datasets", "load_dataset"]

SPLITS = ("train", "val", "test")
OUTCOME_COLUMNS = ("id", "model", "score", "output_tokens", "cost_usd")
_HASH = re.compile(r"^[0-9a-f]{40}$")
Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Prompt:
    """One prompt of a dataset."""

    id: str
    text: str
    task: str
    hash: str
    """sha1 of the normalised question stem: the same question has the same hash everywhere."""
    split: str

    @property
    def task_group(self) -> str:
        """The task's prefix before `/` (`mmlu/anatomy` → `mmlu`), used to group report tables."""
        return self.task.split("/", 1)[0]


@dataclass(frozen=True)
class OutcomeTable:
    """Prompts × models: how well each model answered each prompt, and what it cost.

    `scores`, `output_tokens` and `cost_usd` are `float64[n_prompts, n_models]` with NaN where the
    source has no value.
    """

    name: str
    prompts: tuple[Prompt, ...]
    models: tuple[str, ...]
    scores: Matrix
    output_tokens: Matrix
    cost_usd: Matrix
    prices: dict[str, dict[str, float | None]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.prompts)

    def split(self, *names: str) -> OutcomeTable:
        """Return the rows whose split is one of `names` (e.g. `table.split("train")`)."""
        for name in names:
            if name not in SPLITS:
                raise DataFormatError(f"Unknown split {name!r}. Use one of {SPLITS}.")
        keep = [i for i, p in enumerate(self.prompts) if p.split in names]
        return self.subset(keep)

    def subset(self, rows: list[int]) -> OutcomeTable:
        """Return the given prompt rows, in that order."""
        index = np.asarray(rows, dtype=np.int64)
        return OutcomeTable(
            name=self.name,
            prompts=tuple(self.prompts[i] for i in rows),
            models=self.models,
            scores=self.scores[index],
            output_tokens=self.output_tokens[index],
            cost_usd=self.cost_usd[index],
            prices=self.prices,
        )

    def column(self, model: str) -> Matrix:
        """Scores of one model (NaN where missing)."""
        if model not in self.models:
            raise UnknownNameError("model", model, self.models, f"Models of dataset {self.name!r}.")
        return self.scores[:, self.models.index(model)]

    def texts(self) -> list[str]:
        """The prompt texts, in row order."""
        return [p.text for p in self.prompts]


def list_datasets(root: Path | None = None) -> list[str]:
    """Names of the dataset folders under `root` (default: `routerkit._env.data_dir()`)."""
    base = root or data_dir()
    return sorted(p.name for p in base.iterdir() if (p / "prompts.jsonl.gz").is_file())


def load_dataset(name_or_path: str | Path) -> OutcomeTable:
    """Load and validate a dataset folder.

    Args:
        name_or_path: a dataset name under the data directory (`routellm`), or a folder path.

    Raises:
        UnknownNameError: for a name that is neither a folder nor a dataset of the data directory.
        DataFormatError: for a malformed file, naming the file, line and field.
    """
    folder = _resolve(name_or_path)
    prices = _read_models(folder / "models.json")
    prompts = _read_prompts(folder / "prompts.jsonl.gz")
    return _read_outcomes(folder / "outcomes.csv.gz", folder.name, prompts, prices)


def _resolve(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.is_dir():
        return path
    base = data_dir()
    if (base / str(name_or_path)).is_dir():
        return base / str(name_or_path)
    raise UnknownNameError(
        "dataset",
        str(name_or_path),
        list_datasets(base),
        f"Datasets are read from {str(base)!r} (set `ROUTERKIT_DATA_DIR`), or pass a folder path.",
    )


def _open_text(path: Path) -> Any:
    if not path.is_file():
        raise DataFormatError(f"Missing file {str(path)!r}: a dataset folder needs it (see docs/data.md).")
    return gzip.open(path, "rt", encoding="utf-8", newline="")


def _read_models(path: Path) -> dict[str, dict[str, float | None]]:
    if not path.is_file():
        raise DataFormatError(f"Missing file {str(path)!r}: a dataset folder needs it (see docs/data.md).")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg}).") from exc
    if not isinstance(raw, dict) or not raw:
        raise DataFormatError(f"{path}: expected a non-empty object {{model: {{prices}}}}.")
    prices: dict[str, dict[str, float | None]] = {}
    for model, entry in raw.items():
        if not isinstance(entry, dict):
            raise DataFormatError(f"{path}: model {model!r}: expected an object of prices, got {entry!r}.")
        prices[model] = {
            key: _price(path, model, key, entry.get(key)) for key in ("input_usd_per_mtok", "output_usd_per_mtok")
        }
    return prices


def _price(path: Path, model: str, key: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise DataFormatError(f"{path}: model {model!r}: field `{key}` must be a price ≥ 0 or null, got {value!r}.")
    return float(value)


def _read_prompts(path: Path) -> list[Prompt]:
    prompts: list[Prompt] = []
    seen: set[str] = set()
    with _open_text(path) as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            prompt = _parse_prompt(path, line_no, line)
            if prompt.id in seen:
                raise DataFormatError(f"{path}: line {line_no}: field `id`: duplicate id {prompt.id!r}.")
            seen.add(prompt.id)
            prompts.append(prompt)
    if not prompts:
        raise DataFormatError(f"{path}: no prompts.")
    return prompts


def _parse_prompt(path: Path, line_no: int, line: str) -> Prompt:
    where = f"{path}: line {line_no}"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{where}: not valid JSON ({exc.msg}).") from exc
    if not isinstance(row, dict):
        raise DataFormatError(f"{where}: expected a JSON object, got {type(row).__name__}.")
    for key in ("id", "text", "task", "hash", "split"):
        if not isinstance(row.get(key), str):
            raise DataFormatError(f"{where}: field `{key}` must be a string, got {row.get(key)!r}.")
    if not row["id"]:
        raise DataFormatError(f"{where}: field `id` is empty.")
    if not _HASH.match(row["hash"]):
        raise DataFormatError(f"{where}: field `hash` must be 40 lower-case hex digits (sha1), got {row['hash']!r}.")
    if row["split"] not in SPLITS:
        raise DataFormatError(f"{where}: field `split` must be one of {SPLITS}, got {row['split']!r}.")
    return Prompt(row["id"], row["text"], row["task"], row["hash"], row["split"])


def _read_outcomes(
    path: Path, name: str, prompts: list[Prompt], prices: dict[str, dict[str, float | None]]
) -> OutcomeTable:
    row_of = {p.id: i for i, p in enumerate(prompts)}
    models = tuple(prices)
    col_of = {m: j for j, m in enumerate(models)}
    shape = (len(prompts), len(models))
    scores, tokens, costs = (np.full(shape, np.nan) for _ in range(3))
    for line_no, record in _csv_rows(path):
        i, j = _locate(path, line_no, record, row_of, col_of)
        if not math.isnan(scores[i, j]):
            raise DataFormatError(
                f"{path}: line {line_no}: duplicate outcome for id {record['id']!r}, model {record['model']!r}."
            )
        scores[i, j] = _number(path, line_no, record, "score", upper=1.0, required=True)
        tokens[i, j] = _number(path, line_no, record, "output_tokens", upper=math.inf, required=False)
        costs[i, j] = _number(path, line_no, record, "cost_usd", upper=math.inf, required=False)
    return OutcomeTable(name, tuple(prompts), models, scores, tokens, costs, prices)


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with _open_text(path) as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != OUTCOME_COLUMNS:
            raise DataFormatError(
                f"{path}: line 1: expected the header {','.join(OUTCOME_COLUMNS)!r}, "
                f"got {','.join(reader.fieldnames or [])!r}."
            )
        for record in reader:
            yield reader.line_num, record


def _locate(
    path: Path, line_no: int, record: dict[str, str], row_of: dict[str, int], col_of: dict[str, int]
) -> tuple[int, int]:
    if record["id"] not in row_of:
        raise DataFormatError(f"{path}: line {line_no}: field `id`: {record['id']!r} is not in prompts.jsonl.gz.")
    if record["model"] not in col_of:
        raise DataFormatError(
            f"{path}: line {line_no}: field `model`: {record['model']!r} is not listed in models.json."
        )
    return row_of[record["id"]], col_of[record["model"]]


def _number(path: Path, line_no: int, record: dict[str, str], key: str, *, upper: float, required: bool) -> float:
    raw = record.get(key)
    if raw is None or raw == "":
        if required:
            raise DataFormatError(f"{path}: line {line_no}: field `{key}` is empty; it is required.")
        return math.nan
    try:
        value = float(raw)
    except ValueError:
        raise DataFormatError(f"{path}: line {line_no}: field `{key}`: {raw!r} is not a number.") from None
    if not 0.0 <= value <= upper:
        bound = "[0, 1]" if upper == 1.0 else "≥ 0"
        raise DataFormatError(f"{path}: line {line_no}: field `{key}`: {raw!r} is outside {bound}.")
    return value
