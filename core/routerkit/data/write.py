"""`write_dataset`: an `OutcomeTable` back to the outcome format, e.g. a slice of a dataset or your own logs."""

from __future__ import annotations

import csv
import gzip
import json
import math
from pathlib import Path

from routerkit.data.format import OutcomeTable
from routerkit.errors import ConfigError

__all__ = ["write_dataset"]


def write_dataset(table: OutcomeTable, folder: Path, *, overwrite: bool = False) -> Path:
    """Write `table` as `prompts.jsonl.gz`, `outcomes.csv.gz` and `models.json` in `folder`.

    Missing outcomes (NaN scores) are left out, and NaN token counts and costs are written empty, so
    `load_dataset(folder)` gives the same table back.

    Raises:
        ConfigError: if `folder` already holds a dataset and `overwrite` is False.
    """
    folder = Path(folder)
    if (folder / "prompts.jsonl.gz").exists() and not overwrite:
        raise ConfigError(f"{str(folder)!r} already holds a dataset; pass `overwrite=True` to replace it.")
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / "prompts.jsonl.gz", "wt", encoding="utf-8") as handle:
        for p in table.prompts:
            record = {"id": p.id, "text": p.text, "task": p.task, "hash": p.hash, "split": p.split}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    with gzip.open(folder / "outcomes.csv.gz", "wt", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "model", "score", "output_tokens", "cost_usd"])
        for i, prompt in enumerate(table.prompts):
            for j, model in enumerate(table.models):
                if not math.isnan(table.scores[i, j]):
                    row = (table.scores[i, j], table.output_tokens[i, j], table.cost_usd[i, j])
                    writer.writerow([prompt.id, model, *(_cell(value) for value in row)])
    prices = {model: table.prices.get(model, {}) for model in table.models}
    (folder / "models.json").write_text(json.dumps(prices, indent=2) + "\n", encoding="utf-8")
    return folder


def _cell(value: float) -> str:
    return "" if math.isnan(value) else repr(float(value))
