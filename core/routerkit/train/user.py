"""`routerkit train --kind KIND --data DIR --out DIR`: any router kind, trained on data in the outcome format.

The shipped routers are built from recipes (`onnx_models/recipes/*.json`, `make models`). A user has a
dataset folder instead, so `train_router` writes a recipe with the kind's defaults for that folder into
the artifact folder (`recipe.json`, so the artifact says how it was made) and runs the kind's builder:
train on the `train` split, choose hyperparameters and the default policy on `val`, and record `test`
metrics in the manifest. The artifact loads with `routerkit.load(out_folder)`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from routerkit.artifacts import RouterManifest
from routerkit.data.format import OutcomeTable, load_dataset
from routerkit.errors import ConfigError, UnknownNameError

__all__ = ["KINDS", "train_router"]

Log = Callable[[str], None]
_NAME = re.compile(r"^[a-z0-9_]+$")
_SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class _Kind:
    pairwise: bool
    """Strong/weak kinds need `strong` and `weak`; many-model kinds score every model of the data."""
    summary: str


KINDS: dict[str, _Kind] = {
    "knn": _Kind(False, "k-nearest-neighbour mean outcomes (no torch; seconds)"),
    "embedllm": _Kind(False, "EmbedLLM matrix factorisation: P(correct) per model"),
    "zooter": _Kind(False, "Zooter reward distillation: a share per model"),
    "mf": _Kind(True, "RouteLLM matrix factorisation on battles: P(strong beats weak)"),
    "sw": _Kind(True, "RouteLLM similarity-weighted Bradley-Terry: P(strong beats weak)"),
}
"""The kinds `routerkit train` builds, with a one-line summary each."""


def train_router(
    kind: str,
    data: Path,
    out: Path,
    *,
    strong: str | None = None,
    weak: str | None = None,
    log: Log = print,
) -> RouterManifest:
    """Train a `kind` router on the dataset folder `data` and write the artifact to `out`.

    Args:
        kind: one of `KINDS`.
        data: a dataset folder in the outcome format (docs/data.md) with train, val and test prompts.
        out: the artifact folder to write; its name (`[a-z0-9_]+`) is the router's name.
        strong, weak: the pair, for the strong/weak kinds `mf` and `sw`.
        log: receives progress lines.

    Returns:
        The manifest written to `out/manifest.json`.

    Raises:
        UnknownNameError: for an unknown kind.
        ConfigError: for a bad folder name, a missing split, or a missing or unknown strong/weak model.
        DataFormatError: for malformed data (from `load_dataset`).
        MissingDependencyError: when the kind needs torch and the `train` extra is not installed.
    """
    if kind not in KINDS:
        raise UnknownNameError("router kind", kind, KINDS, "Pick one with `routerkit train --kind KIND`.")
    name = Path(out).name
    if not _NAME.match(name):
        raise ConfigError(
            f"The artifact folder's name {name!r} is the router's name and must match [a-z0-9_]+ "
            "(e.g. `--out routers/my_router`)."
        )
    table = load_dataset(data)
    _check_splits(table)
    base = {
        "name": name,
        "version": "0.1.0",
        "description": f"{kind} trained by `routerkit train` on {Path(data).name} ({KINDS[kind].summary}).",
        "encoder": "minilm_l6",
        "licence": "as the training data's",
    }
    roles = _roles(kind, table, strong, weak)
    out.mkdir(parents=True, exist_ok=True)
    recipe = out / "recipe.json"
    recipe.write_text(json.dumps(_recipe(kind, base, str(Path(data).resolve()), roles), indent=2) + "\n")
    log(f"training {kind} on {table.name}: {len(table.prompts)} prompts, {len(table.models)} models")
    return _build(kind, recipe, out, log)


def _check_splits(table: OutcomeTable) -> None:
    counts = {split: sum(p.split == split for p in table.prompts) for split in _SPLITS}
    missing = [split for split, n in counts.items() if n == 0]
    if missing:
        raise ConfigError(
            f"Dataset {table.name!r} has no {' or '.join(missing)} prompts (counts: {counts}). Training uses "
            "`train`, chooses settings on `val` and measures on `test`: give each prompt a `split`."
        )


def _roles(kind: str, table: OutcomeTable, strong: str | None, weak: str | None) -> dict[str, str] | None:
    if not KINDS[kind].pairwise:
        if strong or weak:
            raise ConfigError(f"`{kind}` scores every model of the data; drop `--strong`/`--weak`.")
        return None
    if not strong or not weak:
        raise ConfigError(
            f"`{kind}` is a strong/weak router: pass `--strong MODEL --weak MODEL` (models: {table.models})."
        )
    for model in (strong, weak):
        if model not in table.models:
            raise UnknownNameError("model", model, table.models, f"Dataset {table.name!r} has outcomes for these.")
    return {"strong": strong, "weak": weak}


def _recipe(kind: str, base: dict[str, str], dataset: str, roles: dict[str, str] | None) -> dict[str, object]:
    if kind in ("knn", "zooter"):
        return {"kind": kind, **base, "dataset": dataset}
    if kind == "embedllm":
        return {**base, "dataset": dataset}
    # mf and sw read battles from a list of datasets; the test metrics come from `routerkit eval`.
    return {**base, "datasets": [dataset], "roles": roles, "evaluation": []}


def _build(kind: str, recipe: Path, out: Path, log: Log) -> RouterManifest:
    # Imported here: each builder pulls in torch or onnx, which `import routerkit` must not.
    if kind in ("knn", "zooter"):
        from routerkit.train.build_heads import build_head

        return build_head(recipe, out.parent, log=log)
    if kind == "embedllm":
        from routerkit.train.build_embedllm import build_embedllm

        return build_embedllm(recipe, out, log=log)
    if kind == "mf":
        from routerkit.train.build import build_mf

        return build_mf(recipe, out, log=log)
    from routerkit.train.build_sw import build_sw

    return build_sw(recipe, out, log=log)
