"""What routes GPT-4 vs Mixtral on `routellm` without `routellm` labels? Label-free transfer, measured.

Run by `make bench-quality` (about 30 s once the embeddings are cached). `routellm` is evaluation only:
nothing here is trained or tuned on its outcomes. The candidates are

- the free baselines: random (0.5 by construction), prompt length, and the oracle (the ceiling);
- the shipped strong/weak routers (`mf`, `sw`, `classifier` when installed), trained on other datasets;
- ridge regressions on [MiniLM embedding, log length] of the train prompts of `mmlu-pro`, `zeroeval`
  and `llmrouter`, predicting a per-prompt target that needs no `routellm` label: *difficulty* (mean
  failure over all models), *Mixtral fails* (1 − Mixtral's score, where Mixtral was measured), and
  *strong wins* (a GPT-4-class model's score minus Mixtral's);
- each regression mixed with the length baseline, z(length) + a · z(prediction), standardised on the
  training prompts. The ridge penalty and `a` are chosen on a proxy: the `val` prompts of `mmlu-pro`
  (gpt-4o-2024-05-13 vs Mixtral) and `zeroeval` (gpt-4-turbo vs Mixtral).

It writes the block between the `transfer` markers of `docs/benchmarks.md`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import routerkit
from _blocks import write_section
from routerkit.data.format import OutcomeTable, load_dataset
from routerkit.errors import RouterkitError
from routerkit.eval.cache import cached_scores
from routerkit.eval.metrics import Summary, oracle_curve, summarize, threshold_sweep
from routerkit.routers.registry import load_encoder
from routerkit.train.embeddings import table_embeddings

Matrix = npt.NDArray[np.float64]
STRONG, WEAK = "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"
PROXY_STRONG = {"mmlu-pro": "gpt-4o-2024-05-13", "zeroeval": "gpt-4-turbo-2024-04-09"}
SOURCES = ("mmlu-pro", "zeroeval", "llmrouter")
PENALTIES = (1.0, 10.0, 100.0, 1000.0, 10000.0)
MIXES = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
START, END = "<!-- transfer:start -->", "<!-- transfer:end -->"


@dataclass(frozen=True)
class Source:
    """One training dataset: its table, features and log lengths."""

    table: OutcomeTable
    features: Matrix
    length: Matrix

    def rows(self, split: str) -> npt.NDArray[np.intp]:
        return np.array([i for i, p in enumerate(self.table.prompts) if p.split == split], dtype=np.intp)


def features(table: OutcomeTable, embeddings: npt.NDArray[np.float32]) -> tuple[Matrix, Matrix]:
    """[embedding, log(1 + characters)] per prompt, and the log length alone."""
    length = np.log1p(np.array([len(p.text) for p in table.prompts], dtype=np.float64))
    return np.hstack([embeddings.astype(np.float64), length[:, None]]), length


def fit_ridge(x: Matrix, y: Matrix, penalty: float) -> Callable[[Matrix], Matrix]:
    """Ridge regression on standardised features (intercept unpenalised); returns the predictor."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    design = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    ridge = penalty * np.eye(design.shape[1])
    ridge[0, 0] = 0.0
    weights = np.linalg.solve(design.T @ design + ridge, design.T @ y)
    return lambda new: np.hstack([np.ones((len(new), 1)), (new - mean) / scale]) @ weights


TARGETS: dict[str, tuple[Callable[[OutcomeTable], Matrix], tuple[str, ...]]] = {
    "difficulty (mean failure over all models)": (lambda t: 1 - np.nanmean(t.scores, axis=1), SOURCES),
    "Mixtral fails": (lambda t: 1 - t.scores[:, t.models.index(WEAK)], ("mmlu-pro", "zeroeval")),
    "strong wins (GPT-4-class − Mixtral)": (
        lambda t: t.scores[:, t.models.index(PROXY_STRONG[t.name])] - t.scores[:, t.models.index(WEAK)],
        ("mmlu-pro", "zeroeval"),
    ),
}


def training_rows(sources: dict[str, Source], target: Callable[[OutcomeTable], Matrix], names: tuple[str, ...]):
    """Stacked train features and targets of `names`, prompts without a target dropped."""
    xs, ys = [], []
    for name in names:
        source = sources[name]
        rows = source.rows("train")
        y = target(source.table)[rows]
        keep = ~np.isnan(y)
        xs.append(source.features[rows][keep])
        ys.append(y[keep])
    return np.vstack(xs), np.concatenate(ys)


def proxy_apgr(sources: dict[str, Source], score: Callable[[Matrix, Matrix], Matrix]) -> float:
    """Mean APGR over the proxy pairs' val prompts (the only tuning signal)."""
    values = []
    for name, strong in PROXY_STRONG.items():
        source = sources[name]
        rows = source.rows("val")
        s = source.table.scores[rows, source.table.models.index(strong)]
        w = source.table.scores[rows, source.table.models.index(WEAK)]
        keep = ~np.isnan(s) & ~np.isnan(w)
        x, length = source.features[rows][keep], source.length[rows][keep]
        values.append(summarize(threshold_sweep(score(x, length), s[keep], w[keep]), s[keep], w[keep]).apgr)
    return float(np.mean(values))


def transfer_scores(sources: dict[str, Source], target_x: Matrix, target_len: Matrix) -> dict[str, Matrix]:
    """Each regression, and its best mix with length, scored on the target prompts."""
    train_len = np.concatenate([s.length[s.rows("train")] for s in sources.values()])
    out: dict[str, Matrix] = {}
    for label, (target, names) in TARGETS.items():
        out.update(transfer_one(sources, label, training_rows(sources, target, names), target_x, target_len, train_len))
    return out


def transfer_one(
    sources: dict[str, Source],
    label: str,
    train: tuple[Matrix, Matrix],
    target_x: Matrix,
    target_len: Matrix,
    train_len: Matrix,
) -> dict[str, Matrix]:
    """One target: the ridge penalty, then the mix with length, each chosen on the proxy pairs."""
    fits = {p: fit_ridge(*train, p) for p in PENALTIES}
    penalty = max(PENALTIES, key=lambda p: proxy_apgr(sources, lambda f, _length: fits[p](f)))
    predict = fits[penalty]
    train_pred = predict(train[0])
    mu, sd = train_pred.mean(), train_pred.std() + 1e-12

    def mixed(f: Matrix, length: Matrix, a: float) -> Matrix:
        # Both parts standardised with training-prompt statistics, never the target's.
        return (length - train_len.mean()) / train_len.std() + a * (predict(f) - mu) / sd

    mix = max(MIXES, key=lambda a: proxy_apgr(sources, lambda f, length: mixed(f, length, a)))
    return {
        f"{label}, ridge {penalty:g}": predict(target_x),
        f"length + {mix:g} × {label}": mixed(target_x, target_len, mix),
    }


def shipped_scores(texts: list[str]) -> dict[str, Matrix]:
    """The installed strong/weak routers that know the pair."""
    out = {}
    for name in ("mf", "sw", "classifier"):
        try:
            router = routerkit.load(name, strong=STRONG, weak=WEAK)
        except RouterkitError as exc:
            print(f"skipping {name}: {exc}")
            continue
        out[f"`{name}` (shipped)"] = cached_scores(router, texts, progress=False)[:, 0]
    return out


def row(label: str, summary: Summary) -> str:
    def share(value: float) -> str:
        return "–" if np.isnan(value) else f"{value:.1%}"

    return f"| {label} | {summary.apgr:.3f} | {share(summary.cpt50)} | {share(summary.cpt80)} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args()
    began = time.perf_counter()
    encoder = load_encoder("minilm_l6")
    sources = {}
    for name in SOURCES:
        table = load_dataset(name)
        sources[name] = Source(table, *features(table, table_embeddings(encoder, table)))
    target = load_dataset("routellm")
    target_x, target_len = features(target, table_embeddings(encoder, target))
    candidates = {
        "prompt length": target_len,
        **shipped_scores(target.texts()),
        **transfer_scores(sources, target_x, target_len),
    }
    groups = np.array([p.task.split("/")[0] for p in target.prompts])
    strong, weak = target.column(STRONG), target.column(WEAK)
    lines = [
        START,
        "## Strong/weak routing on `routellm` without its labels",
        "",
        f"Generated by `bench/transfer_routellm.py` ({time.perf_counter() - began:.0f} s). "
        "GPT-4-1106 vs Mixtral-8x7B on every `routellm` prompt; no router below saw a `routellm` outcome "
        "(choices on the `val` prompts of other datasets, see the script). APGR (random = 0.5), and the share "
        "of strong calls needed to recover 50% / 80% of the quality gap (lower is better). The paper's best "
        "routers, trained with in-domain labels: APGR 0.603 (MMLU) and 0.622 (GSM8K).",
        "",
    ]
    for group in ("mmlu", "gsm8k"):
        keep = groups == group
        s, w = strong[keep], weak[keep]
        lines += [
            f"**{group}** ({int(keep.sum())} prompts)",
            "",
            "| score | APGR | CPT(50%) | CPT(80%) |",
            "|---|---|---|---|",
        ]
        lines.append(row("random (expectation)", summarize(threshold_sweep(np.zeros(int(keep.sum())), s, w), s, w)))
        for label, score in candidates.items():
            lines.append(row(label, summarize(threshold_sweep(score[keep], s, w), s, w)))
        lines += [row("oracle", summarize(oracle_curve(s, w), s, w)), ""]
    lines.append(END)
    block = "\n".join(lines) + "\n"
    print(block)
    write_section(args.out, START, END, block)


if __name__ == "__main__":
    main()
