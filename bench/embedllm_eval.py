"""EmbedLLM on the many-model tables: forecasting, routing, held-out-task accuracy, new models from probes.

Run as `.venv/bin/python bench/embedllm_eval.py` after `make models` (about a minute once the prompt
embeddings are cached). Everything is chosen on `train`/`val` and reported on `test`:

1. correctness forecasting (score ≥ 0.5 per (prompt, model)): the shipped `embedllm_*` head vs a kNN
   on the same MiniLM embeddings (k chosen on val by accuracy) and each model's train base rate;
2. many-model routing (argmax P(correct) over the models with a result on the prompt) vs the best
   single model, the oracle and the random router with the same model shares (exact expectation,
   EmbedLLM §5.2), plus the shipped default `CostAware` policy over the priced models;
3. benchmark-accuracy prediction: one task is removed from training, each model's accuracy on its test
   prompts is predicted as the mean P(correct) and correlated with the truth (baseline: train accuracy);
4. new models from probes: M models are removed from training; for k probe prompts from train
   (5 seeds) each is fitted onto the frozen head (`routerkit.train.embedllm_probes`) and its test
   forecasting compared with the full model (trained with it) and with its probe base rate.

It replaces the `embedllm` block of `docs/benchmarks.md` (appends it if missing) and prints it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import routerkit
from _blocks import write_section
from routerkit.data.format import OutcomeTable, load_dataset
from routerkit.routers.head import HeadRouter
from routerkit.train.build_embedllm import cost_aware_choice, cost_matrix, split_rows
from routerkit.train.embeddings import table_embeddings
from routerkit.train.embedllm import EmbedLLMHyperparameters, correctness_labels, fit_embedllm, predict
from routerkit.train.embedllm_eval import forecast_metrics, pearson, routing_summary, spearman
from routerkit.train.embedllm_probes import ModelPrior, fit_new_model, tower_features
from tqdm import tqdm

START, END = "<!-- embedllm:start -->", "<!-- embedllm:end -->"
# dataset → (artifact, task held out of training for part 3, models held out for part 4)
DATASETS = {
    "mmlu-pro": ("embedllm_mmlu_pro", "mmlu-pro/math", 5),
    "zeroeval": ("embedllm_zeroeval", "crux", 5),
    "llmrouter": ("embedllm_llmrouter", "mmlu", 2),
}
KNN_GRID = (5, 10, 20, 50, 100, 200)
PROBE_KS, PROBE_SEEDS = (10, 50, 200), 5
TRAIN_FRACTIONS = (0.1, 0.25, 0.5, 1.0)
PRIOR_GRID = (
    (1.0, 1.0),
    (1.0, 10.0),
    (1.0, 100.0),
    (1.0, 1000.0),
    (0.3, 100.0),
    (3.0, 100.0),
)  # (strength, bias inflation)


def knn_forecast(
    train_emb: np.ndarray, train_labels: np.ndarray, query: np.ndarray, ks: tuple[int, ...]
) -> dict[int, np.ndarray]:
    """Per k: mean correctness of each model over the k most cosine-similar train prompts (observed cells)."""
    unit = train_emb / np.linalg.norm(train_emb, axis=1, keepdims=True)
    q = query / np.linalg.norm(query, axis=1, keepdims=True)
    top = np.argsort(-(q @ unit.T), axis=1)[:, : max(ks)]
    observed, values = ~np.isnan(train_labels), np.nan_to_num(train_labels)
    base = np.nanmean(train_labels, axis=0)
    out = {}
    for k in ks:
        hits, counts = values[top[:, :k]].sum(axis=1), observed[top[:, :k]].sum(axis=1)
        out[k] = np.where(counts > 0, hits / np.maximum(counts, 1), base)
    return out


def _hp(router: HeadRouter) -> EmbedLLMHyperparameters:
    """The shipped recipe's settings at its val-chosen width (retrained variants skip the width search)."""
    h = router.manifest.training.hyperparameters
    return EmbedLLMHyperparameters(
        dims=(int(h["dim"]),),
        dropout=float(h["dropout"]),
        lr=float(h["lr"]),
        weight_decay=float(h["weight_decay"]),
        batch_size=int(h["batch_size"]),
        max_epochs=int(h["max_epochs"]),
        patience=int(h["patience"]),
        seed=int(h["seed"]),
    )


def forecasting(d: dict[str, Any]) -> list[str]:
    """Part 1 rows."""
    knn_val = knn_forecast(d["emb"]["train"], d["lab"]["train"], d["emb"]["val"], KNN_GRID)
    best_k = max(KNN_GRID, key=lambda k: forecast_metrics(knn_val[k], d["lab"]["val"])["accuracy"])
    knn = knn_forecast(d["emb"]["train"], d["lab"]["train"], d["emb"]["test"], (best_k,))[best_k]
    base = np.broadcast_to(np.nanmean(d["lab"]["train"], axis=0), d["lab"]["test"].shape)
    rows = []
    for name, probs in (
        ("EmbedLLM (shipped head)", d["probs"]),
        (f"kNN, k = {best_k} (val)", knn),
        ("per-model base rate", base),
    ):
        m = forecast_metrics(probs, d["lab"]["test"])
        rows.append(f"| {d['name']} | {name} | {m['accuracy']:.4f} | {m['auc']:.4f} | {int(m['cells']):,} |")
    return rows


def _knn_tuned(
    train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], test: np.ndarray
) -> np.ndarray:
    """kNN forecasts of `test` with k chosen on val by accuracy."""
    on_val = knn_forecast(train[0], train[1], val[0], KNN_GRID)
    k = max(KNN_GRID, key=lambda k: forecast_metrics(on_val[k], val[1])["accuracy"])
    return knn_forecast(train[0], train[1], test, (k,))[k]


def scaling(d: dict[str, Any]) -> list[str]:
    """Part 1b rows (the paper's Table 1): EmbedLLM vs kNN on seeded subsets of the train prompts."""
    rows = []
    n = len(d["rows"]["train"])
    for fraction in TRAIN_FRACTIONS:
        pick = np.sort(np.random.default_rng(0).choice(n, size=round(fraction * n), replace=False))
        train = (d["emb"]["train"][pick], d["lab"]["train"][pick])
        val = (d["emb"]["val"], d["lab"]["val"])
        model = fit_embedllm(train, val, d["hp"], d["hp"].dims[0]).model
        mf = forecast_metrics(predict(model, d["emb"]["test"]), d["lab"]["test"])
        knn = forecast_metrics(_knn_tuned(train, val, d["emb"]["test"]), d["lab"]["test"])
        rows.append(
            _row(d["name"] if fraction == TRAIN_FRACTIONS[0] else "", f"{len(pick):,}", f"{mf['accuracy']:.4f}",
                 f"{knn['accuracy']:.4f}", f"{mf['auc']:.4f}", f"{knn['auc']:.4f}")
        )  # fmt: skip
    return rows


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def _cost(value: float) -> str:
    return "n/a (unpriced model)" if np.isnan(value) else f"${value:.3f}"


def routing(d: dict[str, Any]) -> list[str]:
    """Part 2 rows: all models by argmax, then the default policy over the priced models."""
    scores, costs, models = d["scores"], d["costs"], d["router"].manifest.models
    probs = np.where(np.isnan(scores), -np.inf, d["probs"])
    s = routing_summary(np.argmax(probs, axis=1), scores, costs)
    rows = [
        f"| {d['name']} | all {scores.shape[1]} | EmbedLLM argmax | {s.routed:.4f} | {_cost(s.cost_per_1k)} |",
        f"| | | best single ({models[s.best_model].name}) | {s.best_single:.4f} | {_cost(s.best_single_cost_per_1k)} |",
        f"| | | random, same shares | {s.random_same_shares:.4f} | |",
        f"| | | oracle | {s.oracle:.4f} | |",
    ]
    priced = [m for m in range(costs.shape[1]) if not np.isnan(costs[:, m]).any()]
    if len(priced) >= 2:
        weight = d["router"].manifest.metrics[d["name"]]["priced_cost_weight"]
        choice = np.searchsorted(priced, cost_aware_choice(probs, costs, weight, priced))
        p = routing_summary(choice, scores[:, priced], costs[:, priced])
        rows += [
            _row(
                "",
                f"{len(priced)} priced",
                f"CostAware({weight:g}) (val-tuned)",
                f"{p.routed:.4f}",
                _cost(p.cost_per_1k),
            ),
            _row(
                "",
                "",
                f"best priced single ({models[priced[p.best_model]].name})",
                f"{p.best_single:.4f}",
                _cost(p.best_single_cost_per_1k),
            ),
            f"| | | random, same shares | {p.random_same_shares:.4f} | |",
            f"| | | oracle (priced) | {p.oracle:.4f} | |",
        ]
    return rows


def held_out_task(d: dict[str, Any], task: str) -> list[str]:
    """Part 3 row: train without `task`, predict every model's accuracy on its test prompts."""
    keep = {s: np.array([d["table"].prompts[i].task != task for i in d["rows"][s]]) for s in ("train", "val", "test")}
    train = (d["emb"]["train"][keep["train"]], d["lab"]["train"][keep["train"]])
    val = (d["emb"]["val"][keep["val"]], d["lab"]["val"][keep["val"]])
    model = fit_embedllm(train, val, d["hp"], d["hp"].dims[0]).model
    target = ~keep["test"]
    labels = d["lab"]["test"][target]
    rated = (~np.isnan(labels)).sum(axis=0) >= 10  # models with at least 10 results on the task
    truth = np.nanmean(d["scores"][target][:, rated], axis=0)
    probs = np.where(np.isnan(labels), np.nan, predict(model, d["emb"]["test"][target]))
    predicted = np.nanmean(probs[:, rated], axis=0)
    baseline = np.nanmean(train[1][:, rated], axis=0)
    return [
        f"| {d['name']} | `{task}` | {int(target.sum())} | {int(rated.sum())} | "
        f"{spearman(predicted, truth):.3f} | {pearson(predicted, truth):.3f} | "
        f"{spearman(baseline, truth):.3f} | {pearson(baseline, truth):.3f} | {np.mean(np.abs(predicted - truth)):.3f} |"
    ]


def _probe_run(
    d: dict[str, Any], feats: dict[str, np.ndarray], prior: ModelPrior, m: int, k: int, seed: int, split: str
) -> tuple[float, float, float]:
    """Fit held-out model `m` from k seeded train probes: (accuracy, AUC) on `split`, and the base rate's accuracy."""
    y_train, y_eval = d["lab"]["train"][:, m], d["lab"][split][:, m]
    pool = np.flatnonzero(~np.isnan(y_train))
    pick = np.random.default_rng([seed, m, k]).choice(pool, size=min(k, len(pool)), replace=False)
    v, b = fit_new_model(feats["train"][pick], y_train[pick], prior)
    f = forecast_metrics(1.0 / (1.0 + np.exp(-(feats[split] @ v + b))), y_eval)
    seen = y_eval[~np.isnan(y_eval)]
    return f["accuracy"], f["auc"], float(np.mean((seen >= 0.5) == (np.mean(y_train[pick]) >= 0.5)))


def probes(d: dict[str, Any], n_out: int) -> list[str]:
    """Part 4 rows: held-out models fitted from k probes onto a head trained without them (prior chosen on val)."""
    out = sorted(np.random.default_rng(0).choice(len(d["table"].models), size=n_out, replace=False).tolist())
    kept = [m for m in range(len(d["table"].models)) if m not in out]
    train, val = ((d["emb"][s], d["lab"][s][:, kept]) for s in ("train", "val"))
    arrays = fit_embedllm(train, val, d["hp"], d["hp"].dims[0]).model.arrays()
    feats = {s: tower_features(arrays, d["emb"][s]) for s in ("train", "val", "test")}
    priors = {
        (st, bi): ModelPrior.from_models(arrays["models"], arrays["bias"], strength=st, bias_inflation=bi)
        for st, bi in PRIOR_GRID
    }
    chosen = max(
        priors,
        key=lambda c: np.mean(
            [
                _probe_run(d, feats, priors[c], m, k, seed, "val")[0]
                for m in out
                for k in PROBE_KS
                for seed in range(PROBE_SEEDS)
            ]
        ),
    )
    full = np.mean(
        [[forecast_metrics(d["probs"][:, m], d["lab"]["test"][:, m])[x] for x in ("accuracy", "auc")] for m in out],
        axis=0,
    )
    names = ", ".join(d["table"].models[m] for m in out)
    rows = [
        f"| {d['name']} ({names}); prior strength {chosen[0]:g}, bias inflation {chosen[1]:g} (val) | "
        f"full model (trained with them) | {full[0]:.4f} | {full[1]:.4f} |"
    ]
    for k in PROBE_KS:
        runs = np.array(
            [
                np.mean([_probe_run(d, feats, priors[chosen], m, k, seed, "test") for m in out], axis=0)
                for seed in range(PROBE_SEEDS)
            ]
        )
        mean, sd = runs.mean(axis=0), runs.std(axis=0, ddof=1)
        rows.append(
            _row(
                "",
                f"k = {k}: fitted from probes (frozen head)",
                f"{mean[0]:.4f} ± {sd[0]:.4f}",
                f"{mean[1]:.4f} ± {sd[1]:.4f}",
            )
        )
        rows.append(f"| | k = {k}: probe base rate | {mean[2]:.4f} ± {sd[2]:.4f} | 0.5 |")
    return rows


def dataset_context(name: str, artifact: str) -> dict[str, Any]:
    """Table, embeddings, labels and the shipped router's test scores and costs, by split."""
    table: OutcomeTable = load_dataset(name)
    router = routerkit.load(artifact, threads=1)
    emb = table_embeddings(router.encoder, table)  # type: ignore[attr-defined]
    rows = {s: split_rows(table, s) for s in ("train", "val", "test")}
    test_texts = [table.prompts[i].text for i in rows["test"]]
    return {
        "name": name,
        "table": table,
        "router": router,
        "rows": rows,
        "hp": _hp(router),  # type: ignore[arg-type]
        "emb": {s: emb[r] for s, r in rows.items()},
        "lab": {s: correctness_labels(table, r) for s, r in rows.items()},
        "scores": table.scores[rows["test"]],
        "probs": router.scores_of_embeddings(emb[rows["test"]]),  # type: ignore[attr-defined]
        "costs": cost_matrix(router, test_texts),
    }  # type: ignore[arg-type]


def render(parts: dict[str, list[str]], seconds: float) -> str:
    """The markdown block."""
    return "\n".join(
        [
            START,
            "## EmbedLLM: correctness forecasting, many-model routing, held-out tasks and models",
            "",
            "Produced by `bench/embedllm_eval.py` (shipped heads `embedllm_mmlu_pro`, `embedllm_zeroeval`, "
            "`embedllm_llmrouter`; "
            "choices on train/val, numbers on **test**). Correct = score ≥ 0.5. mmlu-pro's train/val splits are its "
            "stemez/TheoremQA/SciBench questions and its test split is mostly MMLU-derived (see the data README), so "
            "there the test is out of the training distribution; val cannot see that shift.",
            "",
            "**1. Correctness forecasting** (every observed test (prompt, model) cell)",
            "",
            "| dataset | predictor | accuracy | AUC | cells |",
            "|---|---|---:|---:|---:|",
            *parts["forecast"],
            "",
            "**1b. Against the training-set size** (the paper's Table 1: seeded subsets of the train prompts; EmbedLLM "
            "at the shipped width with epochs on val, kNN with k on val)",
            "",
            "| dataset | train prompts | EmbedLLM accuracy | kNN accuracy | EmbedLLM AUC | kNN AUC |",
            "|---|---:|---:|---:|---:|---:|",
            *parts["scaling"],
            "",
            "**2. Many-model routing** (mean test score of the chosen model; a model without a result on a prompt is "
            "not a candidate; cost = the policy's price estimate, USD per 1,000 prompts; best single chosen on test, "
            "an optimistic baseline)",
            "",
            "| dataset | models | router | accuracy | cost / 1k |",
            "|---|---|---|---:|---:|",
            *parts["routing"],
            "",
            "**3. Benchmark-accuracy prediction for a held-out task** (task removed from train/val; per-model accuracy "
            "on its test prompts predicted as the mean P(correct); baseline: each model's train accuracy)",
            "",
            "| dataset | held-out task | test prompts | models | Spearman | Pearson | baseline Spearman "
            "| baseline Pearson | MAE |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|",
            *parts["task"],
            "",
            "**4. New model from k probe prompts** (models removed from training; probes drawn from train, "
            f"{PROBE_SEEDS} "
            "seeds, mean ± sd over seeds of the held-out models' mean test accuracy/AUC; the prior's strength and bias "
            "inflation chosen on val; the base rate predicts every prompt alike, so its AUC is 0.5)",
            "",
            "| dataset (held-out models) | predictor | accuracy | AUC |",
            "|---|---|---:|---:|",
            *parts["probes"],
            "",
            f"Bench time {seconds:.0f} s (1 torch thread).",
            END,
            "",
        ]
    )


def main() -> None:
    """Run all four parts on the three datasets and write the block."""
    import torch

    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--doc", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    args = parser.parse_args()
    started = time.perf_counter()
    parts: dict[str, list[str]] = {"forecast": [], "scaling": [], "routing": [], "task": [], "probes": []}
    for name in tqdm(args.datasets, desc="embedllm bench"):
        artifact, task, n_out = DATASETS[name]
        d = dataset_context(name, artifact)
        parts["forecast"] += forecasting(d)
        parts["scaling"] += scaling(d)
        parts["routing"] += routing(d)
        parts["task"] += held_out_task(d, task)
        parts["probes"] += probes(d, n_out)
    block = render(parts, time.perf_counter() - started)
    write_section(args.doc, START, END, block)
    print(block)


if __name__ == "__main__":
    main()
