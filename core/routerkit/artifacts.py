"""Artifact manifests: the pydantic schema, reading from a folder, and sha256 verification.

An artifact is a folder holding `manifest.json` and the files it names. The manifest is the source of
truth for file hashes, I/O names, tokenizer settings, licence and provenance; loading verifies every
sha256 before any file is used.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from routerkit.errors import ArtifactError

__all__ = [
    "NAME_PATTERN",
    "EncoderManifest",
    "EncoderRef",
    "FileEntry",
    "ModelEntry",
    "PolicySpec",
    "Roles",
    "RouterManifest",
    "TokenizerSettings",
    "TrainingData",
    "check_encoder",
    "read_manifest",
    "sha256_of",
    "verify_files",
]

NAME_PATTERN = r"^[a-z0-9_]+$"
"""Artifact and router-kind names: lower-case letters, digits and `_` (no `-`, see `router-<name>-<t>`)."""

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FileEntry(_Frozen):
    """One file of an artifact."""

    sha256: Sha256
    """Hex sha256 of the file's bytes."""
    bytes: int = Field(ge=0)
    """File size in bytes."""

    @classmethod
    def of(cls, path: Path) -> FileEntry:
        """The entry of the file at `path` as it is now (its sha256 and size), for a manifest."""
        return cls(sha256=sha256_of(path), bytes=path.stat().st_size)


class TokenizerSettings(_Frozen):
    """How the encoder's tokenizer is configured at run time (the file's own settings are overridden)."""

    max_length: int = Field(gt=0)
    """Tokens kept per prompt, special tokens included; the rest is cut from the end."""
    padding: Literal["longest"] = "longest"
    """Pad each batch to its longest prompt, never to a fixed length."""
    pad_id: int = 0
    """Id of the padding token."""
    pad_token: str = "[PAD]"
    """The padding token."""


class EncoderManifest(_Frozen):
    """Manifest of a text encoder artifact (ONNX graph + `tokenizer.json`)."""

    format_version: Literal[1] = 1
    kind: Literal["encoder"] = "encoder"
    name: Name
    """Registered name of the encoder."""
    version: str
    description: str
    files: dict[str, FileEntry]
    """Every file of the artifact with its sha256."""
    model_file: str
    tokenizer_file: str
    inputs: tuple[str, ...]
    """Graph inputs, int64 `[batch, sequence]` each."""
    output: str
    """Graph output, float32 `[batch, dim]`."""
    dim: int = Field(gt=0)
    tokenizer: TokenizerSettings
    pooling: Literal["mean"]
    normalized: bool
    """Whether the output rows have unit L2 norm."""
    quantization: str
    """How the weights/activations are stored, e.g. `fp32` or `int8-static-qdq`."""
    fidelity: dict[str, float]
    """Measured agreement with the reference (e.g. mean/min cosine to the torch embeddings)."""
    licence: str
    provenance: dict[str, str]
    build_tools: dict[str, str]
    routerkit_version: str
    min_core_version: str


class EncoderRef(_Frozen):
    """The exact encoder a router head was trained on."""

    name: Name
    sha256: Sha256
    """sha256 of the encoder's ONNX file: a head refuses to run on any other encoder."""


class ModelEntry(_Frozen):
    """One LLM a router scores, with its price."""

    name: str = Field(min_length=1)
    input_usd_per_mtok: float | None = None
    output_usd_per_mtok: float | None = None
    mean_output_tokens: float | None = None
    """Mean output tokens in the training data, used for expected cost."""


class Roles(_Frozen):
    """Default strong/weak pair of a strong/weak router."""

    strong: str
    weak: str


class PolicySpec(_Frozen):
    """The default policy of a router."""

    kind: Literal["threshold", "cost_aware"]
    value: float
    """The threshold `t` or the cost weight."""


class TrainingData(_Frozen):
    """What a router was trained on."""

    datasets: dict[str, dict[str, int]]
    """Per dataset: split name → count (prompts, battles, …)."""
    split: Literal["train"] = "train"
    tuned_on: Literal["val"] = "val"
    recipe: str
    """Path of the recipe (config) inside the repository, e.g. `onnx_models/recipes/mf.json`."""
    hyperparameters: dict[str, float | int | str]


class RouterManifest(_Frozen):
    """Manifest of a router artifact (a head `.onnx` on top of a named encoder)."""

    format_version: Literal[1] = 1
    name: Name
    kind: Name
    """Router kind that loads it (`mf`, …)."""
    version: str
    status: Literal["experimental", "stable"]
    description: str
    encoder: EncoderRef
    files: dict[str, FileEntry]
    head_file: str
    head_input: str
    head_output: str
    models: tuple[ModelEntry, ...]
    """Scored models; for many-model routers the column order of `scores()`."""
    roles: Roles | None = None
    default_policy: PolicySpec
    training: TrainingData
    metrics: dict[str, dict[str, float]]
    """Test metrics per evaluation table, e.g. `{"routellm/mmlu": {"apgr": 0.52, …}}`."""
    licence: str
    routerkit_version: str
    min_core_version: str


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(
    directory: Path, schema: type[EncoderManifest] | type[RouterManifest]
) -> EncoderManifest | RouterManifest:
    """Read and validate `directory/manifest.json` against `schema`.

    Raises:
        ArtifactError: if the file is missing, not JSON, or does not match the schema.
    """
    path = directory / "manifest.json"
    if not path.is_file():
        raise ArtifactError(
            f"Artifact folder {str(directory)!r} has no `manifest.json`. "
            "Point at a folder written by `routerkit.train` or shipped in `routerkit_models`."
        )
    try:
        return schema.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise ArtifactError(f"Manifest {str(path)!r} is invalid: {exc}. Rebuild the artifact (`make models`).") from exc


def check_encoder(manifest: RouterManifest, encoder_sha256: str) -> None:
    """Refuse to run a router on another encoder than the one its files were made with.

    Raises:
        ArtifactError: naming the router, the encoder it needs and both sha256.
    """
    if encoder_sha256 != manifest.encoder.sha256:
        raise ArtifactError(
            f"Router {manifest.name!r} ({manifest.kind}) was made with encoder {manifest.encoder.name!r} with "
            f"sha256 {manifest.encoder.sha256}, but the loaded encoder has {encoder_sha256}. Install the matching "
            "`routerkit-models`, or rebuild the router (`make models`, `routerkit train` or `routerkit adapt`)."
        )


def verify_files(directory: Path, files: dict[str, FileEntry]) -> None:
    """Check that every file exists and has the sha256 the manifest records.

    Raises:
        ArtifactError: naming the file, the expected and the actual hash.
    """
    for name, entry in files.items():
        path = directory / name
        if not path.is_file():
            raise ArtifactError(
                f"Artifact file {str(path)!r} named in the manifest is missing. "
                "Reinstall `routerkit-models` or rebuild the artifact."
            )
        actual = sha256_of(path)
        if actual != entry.sha256:
            raise ArtifactError(
                f"Artifact file {str(path)!r} failed its sha256 check: expected {entry.sha256}, "
                f"got {actual}. The file was modified or corrupted; reinstall `routerkit-models` "
                "or rebuild the artifact with `make models`."
            )
