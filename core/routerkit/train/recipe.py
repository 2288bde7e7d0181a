"""Training recipes: the `mf` recipe, the fields every strong/weak recipe shares, and reading a recipe file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from routerkit.artifacts import Name, Roles
from routerkit.errors import ConfigError

__all__ = ["MFHyperparameters", "MFRecipe", "PairRecipe", "read_recipe", "read_recipe_file"]

R = TypeVar("R")


class MFHyperparameters(BaseModel):
    """Optimisation settings (RouteLLM's defaults where they apply)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    dim: int = Field(128, gt=0)
    """Width of the model and prompt projections."""
    noise: float = Field(0.0, ge=0.0)
    """Std of Gaussian noise added to prompt embeddings during training (RouteLLM: 0.1 on 1536-d)."""
    lr: float = Field(3e-4, gt=0.0)
    weight_decay: float = Field(1e-5, ge=0.0)
    batch_size: int = Field(2048, gt=0)
    max_epochs: int = Field(30, gt=0)
    patience: int = Field(3, gt=0)
    """Stop after this many epochs without a better validation loss; the best epoch is kept."""
    seed: int = 0


class PairRecipe(BaseModel):
    """The fields every strong/weak recipe shares (`mf`, `sw`, `classifier`); each kind adds its hyperparameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Name
    version: str
    description: str
    encoder: Name
    datasets: tuple[str, ...] = Field(min_length=1)
    roles: Roles
    default_strong_share: float = Field(0.5, ge=0.0, le=1.0)
    """The default threshold sends this share of the validation prompts to the strong model."""
    licence: str
    evaluation: tuple[str, ...] = ("routellm",)
    """Datasets whose test metrics go into the manifest (never used for training or tuning)."""


class MFRecipe(PairRecipe):
    """Everything that determines a trained `mf` artifact, besides the data and tool versions."""

    hyperparameters: MFHyperparameters = MFHyperparameters()


def read_recipe_file(parse: Callable[[str], R], path: Path) -> R:
    """Read the recipe file `path` with `parse` (a model's or an adapter's `validate_json`).

    Raises:
        ConfigError: naming the file and, for an invalid recipe, the field.
    """
    try:
        return parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"Recipe {str(path)!r} does not exist.") from None
    except ValidationError as exc:
        raise ConfigError(f"Recipe {str(path)!r} is invalid: {exc}") from exc


def read_recipe(path: Path) -> MFRecipe:
    """Read and validate an `mf` recipe file.

    Raises:
        ConfigError: naming the file and the invalid field.
    """
    return read_recipe_file(MFRecipe.model_validate_json, path)
