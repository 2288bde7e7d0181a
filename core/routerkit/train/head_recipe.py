"""Recipes of the many-model head kinds built by `routerkit.train.build_heads`: `knn` and `zooter`.

One recipe describes one artifact trained on one dataset's train split; the grids below are searched
on its val split (k and weighting, or τ and β), and so is the default cost weight.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from routerkit.artifacts import Name
from routerkit.train.recipe import read_recipe_file
from routerkit.train.zooter import ZooterHyperparameters

__all__ = ["HeadRecipe", "KnnRecipe", "ZooterRecipe", "read_head_recipe"]

DEFAULT_COST_WEIGHTS = (0.0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


class _Common(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Name
    """Artifact name (also its folder name under `routerkit_models/routers/`)."""
    version: str
    description: str
    encoder: Name
    dataset: str
    """The dataset trained on (train split), tuned on (val) and measured on (test)."""
    licence: str
    cost_weights: tuple[float, ...] = DEFAULT_COST_WEIGHTS
    """Candidate weights of the default `CostAware` policy, tried on val."""
    cost_tolerance: float = Field(0.005, ge=0.0)
    """The default weight is the largest whose val accuracy is within this of the best weight's."""


class KnnRecipe(_Common):
    """A `knn` head: k and the weighting are chosen on val."""

    kind: Literal["knn"] = "knn"
    ks: tuple[int, ...] = Field((1, 3, 5, 10, 20, 50, 100, 200, 500), min_length=1)
    weightings: tuple[Literal["mean", "similarity"], ...] = ("mean", "similarity")
    max_stored: int = Field(8000, gt=0)
    """At most this many train prompts are stored (seeded subsample beyond), to keep the artifact ≤ 8 MB."""
    seed: int = 0


class ZooterRecipe(_Common):
    """A `zooter` head: τ and β are chosen on val, the epoch by val loss."""

    kind: Literal["zooter"] = "zooter"
    taus: tuple[float, ...] = Field((0.1, 0.3, 1.0), min_length=1)
    """Temperatures of the target softmax over the models' scores."""
    betas: tuple[float, ...] = Field((0.0, 0.3, 0.7, 1.0), min_length=1)
    """Weight of the prompt's own target against its tag's mean (paper: 0.3 best, 0 = tag only second)."""
    hyperparameters: ZooterHyperparameters = ZooterHyperparameters()


HeadRecipe = Annotated[KnnRecipe | ZooterRecipe, Field(discriminator="kind")]
_ADAPTER: TypeAdapter[KnnRecipe | ZooterRecipe] = TypeAdapter(HeadRecipe)


def read_head_recipe(path: Path) -> KnnRecipe | ZooterRecipe:
    """Read and validate a `knn` or `zooter` recipe file (its `kind` field says which).

    Raises:
        ConfigError: naming the file and the invalid field.
    """
    return read_recipe_file(_ADAPTER.validate_json, path)
