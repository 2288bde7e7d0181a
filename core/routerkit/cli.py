"""The `routerkit` command: `list`, `route`, `eval`, `train`, `adapt`, `plugins`, `serve`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _cmd_list(args: argparse.Namespace) -> int:
    from routerkit.routers.registry import list_routers

    rows = [(r.name, r.kind, r.source, r.status, r.description) for r in list_routers()]
    _print_table(("name", "kind", "source", "status", "description"), rows)
    return 0


def _cmd_route(args: argparse.Namespace) -> int:
    from routerkit.calibration import StrongShare, calibrate
    from routerkit.routers.policies import Policy, Threshold
    from routerkit.routers.registry import load

    started = time.perf_counter()
    router = load(args.router)
    policy: Policy | None = None
    if args.threshold is not None:
        policy = Threshold(args.threshold)
    elif args.strong_share is not None:
        sample = _calibration_prompts(args.calibrate_on)
        policy = calibrate(router, sample, target=StrongShare(args.strong_share))
        print(f"calibrated on {len(sample)} prompts: threshold {policy.params()['threshold']:.5f}")
    load_ms = (time.perf_counter() - started) * 1000
    router.route(args.prompt, policy)  # warm-up: the first call opens the sessions
    decision = router.route(args.prompt, policy)
    if args.json:
        print(decision.model_dump_json(indent=2))
        return 0
    scores = ", ".join(f"{k}={v:.4f}" for k, v in decision.scores.items())
    cost = "unknown" if decision.expected_cost_usd is None else f"${decision.expected_cost_usd:.6f}"
    print(f"model:    {decision.model}" + (f" ({decision.role})" if decision.role else ""))
    print(f"scores:   {scores}")
    print(f"policy:   {decision.policy} {decision.policy_params}")
    print(f"cost:     {cost} expected")
    print(f"latency:  {decision.latency_ms:.2f} ms (warm; load + first call {load_ms:.0f} ms)")
    print(f"router:   {decision.router} v{decision.router_version}")
    return 0


def _calibration_prompts(path: Path | None) -> list[str]:
    """Prompts to calibrate on: a file (one prompt per line, or JSON lines with `text`), else the
    validation split of the datasets in the data directory."""
    if path is not None:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [json.loads(line)["text"] if line.lstrip().startswith("{") else line for line in lines]
    from routerkit.data import list_datasets, load_dataset

    return [p.text for name in list_datasets() for p in load_dataset(name).prompts if p.split == "val"]


def _cmd_eval(args: argparse.Namespace) -> int:
    from routerkit.eval.report import evaluate, format_group

    pairwise = _eval_many_model_routers(args)
    if args.router and not pairwise:
        return 0
    results = evaluate(pairwise or None, dataset=args.dataset, points=args.points, plot=args.plot)
    for group in results.groups:
        print(format_group(group))
        print()
    if results.plot is not None:
        print(f"plot: {results.plot}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from routerkit.train.user import train_router

    manifest = train_router(args.kind, args.data, args.out, strong=args.strong, weak=args.weak)
    print(f"wrote {args.out} ({manifest.kind}, {len(manifest.models)} models)")
    print(f"load it with routerkit.load({str(args.out)!r})")
    for table, values in manifest.metrics.items():
        print(f"  {table}: " + ", ".join(f"{key} {value:g}" for key, value in values.items()))
    return 0


def _eval_many_model_routers(args: argparse.Namespace) -> list[str]:
    """Report every many-model router of `--router` on the test split; return the strong/weak ones."""
    import routerkit
    from routerkit.eval.many_report import evaluate_many, format_many

    pairwise = []
    for name in args.router or []:
        router = routerkit.load(name)
        if router.pairwise:
            pairwise.append(name)
        else:
            print(format_many(evaluate_many(router, args.dataset, split=args.split)))
            print()
    return pairwise


def _cmd_adapt(args: argparse.Namespace) -> int:
    from routerkit.train.adapt import adapt_router

    manifest = adapt_router(
        args.router,
        args.data,
        args.out,
        share=args.sample,
        seed=args.seed,
        strong=args.strong,
        weak=args.weak,
        allow_larger_sample=args.allow_larger_sample,
    )
    sample = manifest.training.datasets
    print(f"wrote {args.out} (adapted {manifest.roles}; sample {sample})")
    print(f"load it with routerkit.load({str(args.out)!r}); leave the ids in sample_ids.json out of any evaluation")
    for table, values in manifest.metrics.items():
        print(f"  {table}: " + ", ".join(f"{key} {value:g}" for key, value in values.items()))
    return 0


def _cmd_plugins(args: argparse.Namespace) -> int:
    from routerkit.plugins.manager import default_plugins

    plugins = default_plugins()
    rows = [(p.name, p.distribution, p.version, "loaded") for p in plugins.loaded]
    rows += [(f.name, f.distribution, "", f"FAILED: {f.error}") for f in plugins.failures]
    _print_table(("plugin", "distribution", "version", "status"), rows)
    print(f"\nregistered: {', '.join(plugins.plugin_names())}")
    return 1 if plugins.failures else 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from routerkit.errors import ConfigError, MissingDependencyError

    try:
        import uvicorn

        from routerkit.server import create_app, load_config
        from routerkit.server.logs import configure_logging
    except ImportError as exc:
        raise MissingDependencyError.for_extra("`routerkit serve`", "server", exc.name or "fastapi") from exc
    config = load_config(args.config)
    if not _is_loopback(args.host) and config.auth.api_keys_env is None:
        raise ConfigError(
            f"Refusing to serve on the non-loopback host {args.host!r} without client API keys: anyone who can "
            "reach it could spend your upstream credit. Set `auth.api_keys_env` in the config (and that variable "
            "to comma-separated keys), or bind to 127.0.0.1."
        )
    app = create_app(config)  # fails here, before binding, on a router or key problem
    configure_logging(args.log_level.upper())
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    return 0


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost may resolve anywhere
        return False


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip())


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for docs and tests)."""
    parser = argparse.ArgumentParser(prog="routerkit", description="Route LLM requests with small ONNX routers.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the routers `routerkit.load` accepts").set_defaults(run=_cmd_list)

    route = sub.add_parser("route", help="route one prompt and print the decision")
    route.add_argument("prompt")
    route.add_argument("--router", default="mf")
    chosen = route.add_mutually_exclusive_group()
    chosen.add_argument("--threshold", type=float, help="strong iff P(strong wins) >= T")
    chosen.add_argument("--strong-share", type=float, help="calibrate T so this share goes strong")
    route.add_argument("--calibrate-on", type=Path, help="prompts file for --strong-share (default: val splits)")
    route.add_argument("--json", action="store_true", help="print the Decision as JSON")
    route.set_defaults(run=_cmd_route)

    ev = sub.add_parser("eval", help="RouteLLM metrics with random, length and oracle baselines")
    ev.add_argument("--dataset", default="routellm")
    ev.add_argument(
        "--router", action="append", default=None, help="router name or artifact folder (repeatable; default mf)"
    )
    ev.add_argument("--split", default="test", help="split for many-model routers (strong/weak: every prompt)")
    ev.add_argument("--points", type=int, default=101, help="points of the threshold sweep")
    ev.add_argument("--plot", type=Path, default=Path("routerkit-eval.png"), help="cost-quality PNG")
    ev.set_defaults(run=_cmd_eval)

    train = sub.add_parser("train", help="train a router of any kind on a dataset folder (extra `train`)")
    train.add_argument("--kind", required=True, help="knn, embedllm, zooter, mf or sw")
    train.add_argument("--data", type=Path, required=True, help="dataset folder in the outcome format (docs/data.md)")
    train.add_argument("--out", type=Path, required=True, help="artifact folder to write; its name is the router's")
    train.add_argument("--strong", help="strong model, for the strong/weak kinds mf and sw")
    train.add_argument("--weak", help="weak model, for the strong/weak kinds mf and sw")
    train.set_defaults(run=_cmd_train)

    adapt = sub.add_parser("adapt", help="refit a strong/weak router to your domain from a small labelled sample")
    adapt.add_argument("--router", required=True, help="base strong/weak router: a name (mf, length) or a folder")
    adapt.add_argument("--data", required=True, help="the domain: a dataset name or folder in the outcome format")
    adapt.add_argument("--out", type=Path, required=True, help="artifact folder to write; its name is the router's")
    adapt.add_argument("--sample", type=float, default=0.05, help="share of labelled prompts to use (at most 0.05)")
    adapt.add_argument("--seed", type=int, default=0, help="seeds the sample and the cross-validation folds")
    adapt.add_argument("--strong", help="strong model (default: the base router's)")
    adapt.add_argument("--weak", help="weak model (default: the base router's)")
    adapt.add_argument("--allow-larger-sample", action="store_true", help="accept --sample above 0.05")
    adapt.set_defaults(run=_cmd_adapt)

    sub.add_parser("plugins", help="list plugins, versions and failures").set_defaults(run=_cmd_plugins)

    serve = sub.add_parser("serve", help="run the OpenAI-compatible routing server (extra `server`)")
    serve.add_argument("--config", type=Path, required=True, help="server config (YAML or JSON)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (non-loopback needs client keys)")
    serve.add_argument("--port", type=int, default=6060)
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    serve.set_defaults(run=_cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (errors print one clear line, status 2)."""
    from routerkit.errors import RouterkitError

    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except RouterkitError as exc:
        print(f"routerkit: error: {exc}", file=sys.stderr)
        return 2


def run() -> None:
    """Console-script entry point: exit with `main`'s status."""
    sys.exit(main())


if __name__ == "__main__":
    run()
