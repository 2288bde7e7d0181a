"""Load-test the routing server: what does `routerkit serve` add to a streaming request?

Run by `make bench` (after `bench/run.py`) as `.venv/bin/python bench/server_load.py --out docs/benchmarks.md`.
Two fake OpenAI upstreams (`routerkit.testing.upstream`, each stream 10 SSE chunks 5 ms apart) run in
one process, `routerkit serve` in a second, and this process is the client: bursts of 200 concurrent
streaming chat requests, sent through the server (with the `length` router, whose decision is nearly
free, and with the learned `mf` router) and directly to the upstreams. Every request must succeed; the
report gives p50/p99 of time to first byte and of total time for each path and the router's overhead
(server minus direct). Its section of the output page lies between the `server-load` markers and
replaces only that block.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from _blocks import write_section

CONCURRENCY = 200
SEQUENTIAL = 50  # then this many requests one at a time per path, for the latency without queueing
ROUNDS = 3  # measured bursts per path, interleaved across paths; one unmeasured warm-up burst each
CHUNKS, CHUNK_DELAY_S = 8, 0.005  # 8 content chunks + the role and finish chunks: 10 SSE events
START, END = "<!-- server-load:start -->", "<!-- server-load:end -->"
DIRECT = "direct to the upstream"
CELLS = [("ttfb", 50), ("ttfb", 99), ("total", 50), ("total", 99)]
PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about rain.",
    "Prove that there are infinitely many primes and explain each step of the argument carefully.",
    "Translate 'good morning' into Spanish.",
    "Derive the Black-Scholes equation from a replicating portfolio, stating every assumption you use "
    "and where the no-arbitrage condition enters the derivation.",
]


@dataclass(frozen=True)
class Sample:
    """One request: seconds to the first body byte and to the end, and whether it fully succeeded."""

    ttfb: float
    total: float
    ok: bool


def free_port() -> int:
    """A port free on loopback now (the child binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_upstreams(ports: list[int]) -> None:
    """Child process: serve the fake upstreams `strong` and `weak` on `ports` until killed."""
    from routerkit.testing.upstream import Behaviour, fake_openai_upstream, serve_in_thread

    slow = Behaviour(chunks=CHUNKS, chunk_delay_s=CHUNK_DELAY_S)
    with (
        serve_in_thread(fake_openai_upstream("strong", behaviour=slow), port=ports[0]),
        serve_in_thread(fake_openai_upstream("weak", behaviour=slow), port=ports[1]),
    ):
        print("ready", flush=True)
        while True:
            time.sleep(3600)


def write_config(folder: Path, ports: list[int]) -> Path:
    """A server config with the routers `length` and `mf` over the two upstreams (JSON is valid YAML)."""
    config = {
        "models": {
            name: {"base_url": f"http://127.0.0.1:{port}/v1", "model": f"{name}-model"}
            for name, port in zip(("strong", "weak"), ports, strict=True)
        },
        "routers": {
            "length": {
                "load": "length",
                "options": {"strong": "big", "weak": "small"},
                "models": {"big": "strong", "small": "weak"},
                "threshold": 0.1,
            },
            "mf": {"load": "mf", "models": {"gpt-4-1106-preview": "strong", "mixtral-8x7b-instruct-v0.1": "weak"}},
        },
    }
    path = folder / "routes.yaml"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


def start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Start a child process whose output goes to `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def wait_ready(url: str, child: subprocess.Popen[bytes], log: Path) -> None:
    """Poll `url` until it answers; fail with the child's log if the child dies or 60 s pass."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"{child.args!r} exited with {child.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within 60 s:\n{log.read_text()}")


async def one(client: httpx.AsyncClient, url: str, model: str, prompt: str) -> Sample:
    """Send one streaming chat request and time it."""
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "stream": True}
    started = time.perf_counter()
    first, received = 0.0, bytearray()
    try:
        async with client.stream("POST", url, json=body) as response:
            async for chunk in response.aiter_raw():
                first = first or time.perf_counter()
                received += chunk
        ok = response.status_code == 200 and received.rstrip().endswith(b"data: [DONE]")
    except httpx.HTTPError:
        ok = False
    end = time.perf_counter()
    return Sample((first or end) - started, end - started, ok)


async def burst(targets: list[tuple[str, str]]) -> list[Sample]:
    """`CONCURRENCY` requests at once, the i-th to `targets[i % len(targets)]` as `(url, model)`."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        calls = [one(client, *targets[i % len(targets)], PROMPTS[i % len(PROMPTS)]) for i in range(CONCURRENCY)]
        return list(await asyncio.gather(*calls))


async def in_turn(targets: list[tuple[str, str]]) -> list[Sample]:
    """`SEQUENTIAL` requests one after another on one keep-alive connection."""
    async with httpx.AsyncClient(timeout=60) as client:
        return [await one(client, *targets[i % len(targets)], PROMPTS[i % len(PROMPTS)]) for i in range(SEQUENTIAL)]


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process `pid` has used so far (Linux `/proc`)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Lane:
    """One way to reach the upstreams, and what was measured on it."""

    targets: list[tuple[str, str]]
    bursts: list[Sample] = field(default_factory=list)
    sequential: list[Sample] = field(default_factory=list)
    server_cpu_s: float = 0.0


def measure(paths: dict[str, Lane], server: int) -> None:
    """Per path: a warm-up burst, `ROUNDS` measured bursts (interleaved across paths), then requests in turn."""
    for path in paths.values():
        asyncio.run(burst(path.targets))
    for _ in range(ROUNDS):
        for path in paths.values():
            before = cpu_s(server)
            path.bursts += asyncio.run(burst(path.targets))
            path.server_cpu_s += cpu_s(server) - before
    for path in paths.values():
        path.sequential = asyncio.run(in_turn(path.targets))


def ms(samples: list[Sample], field: str, q: float) -> float:
    """The `q`-th percentile of `field` over `samples`, in milliseconds."""
    return float(np.percentile([getattr(s, field) for s in samples], q)) * 1000


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def section(lanes: dict[str, Lane]) -> str:
    """The Markdown block for docs/benchmarks.md."""
    direct = lanes[DIRECT]
    rows, overhead, in_turn_rows = [], [], []
    for name, lane in lanes.items():
        got, cpu = lane.bursts, f"{lane.server_cpu_s / len(lane.bursts) * 1000:.2f}" if name != DIRECT else "–"
        rows.append(_row([name, *(f"{ms(got, f, q):.1f}" for f, q in CELLS), cpu, str(sum(not s.ok for s in got))]))
        seq = [f"{ms(lane.sequential, f, 50):.1f}" for f in ("ttfb", "total")]
        if name != DIRECT:
            overhead.append(_row([name, *(f"{ms(got, f, q) - ms(direct.bursts, f, q):+.1f}" for f, q in CELLS)]))
            seq += [f"{ms(lane.sequential, f, 50) - ms(direct.sequential, f, 50):+.1f}" for f in ("ttfb", "total")]
        in_turn_rows.append(_row(seq if name != DIRECT else [*seq, "–", "–"]).replace("| ", f"| {name} | ", 1))
    head = "| path | TTFB p50 (ms) | TTFB p99 (ms) | total p50 (ms) | total p99 (ms) |"
    return "\n".join(
        [
            START,
            "## Server load test",
            "",
            "Generated by `bench/server_load.py` (`make bench` runs it after `bench/run.py`). Bursts of "
            f"{CONCURRENCY} concurrent streaming chat requests ({ROUNDS} measured bursts per path, after one "
            f"warm-up burst) to two fake OpenAI upstreams whose streams send 10 chunks {CHUNK_DELAY_S * 1000:g} ms "
            "apart, either directly or through `routerkit serve` (one uvicorn worker) choosing between them with "
            "the `length` router (a near-free decision: the proxy's own cost) or the learned `mf` router "
            "(MiniLM encoder + head on onnxruntime, one decision per request). Three processes on one machine: "
            "the upstreams, the server, and the client (httpx, a fresh connection per request in a burst); they "
            f"share {len(os.sched_getaffinity(0))} cores, so the figures include contention between them. "
            f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
            "",
            head + " server CPU per request (ms) | errors |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Overhead the server adds under that load (through the server minus direct, same percentile):",
            "",
            head,
            "|---|---|---|---|---|",
            *overhead,
            "",
            f"One request at a time ({SEQUENTIAL} in turn per path, one keep-alive connection), p50:",
            "",
            "| path | TTFB (ms) | total (ms) | TTFB overhead (ms) | total overhead (ms) |",
            "|---|---|---|---|---|",
            *in_turn_rows,
            END,
            "",
        ]
    )


def main() -> None:
    """Start upstreams and server, measure every path, check there were no errors, write the section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--upstreams", type=int, nargs=2, help=argparse.SUPPRESS)  # the child's role
    args = parser.parse_args()
    if args.upstreams:
        return serve_upstreams(args.upstreams)
    up, port = [free_port(), free_port()], free_port()
    routerkit = str(Path(sys.executable).parent / "routerkit")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        upstreams = start([sys.executable, __file__, "--upstreams", *map(str, up)], folder / "upstreams.log")
        config = write_config(folder, up)
        server = start([routerkit, "serve", "--config", str(config), "--port", str(port)], folder / "server.log")
        try:
            wait_ready(f"http://127.0.0.1:{up[0]}/v1/models", upstreams, folder / "upstreams.log")
            wait_ready(f"http://127.0.0.1:{port}/v1/models", server, folder / "server.log")
            via = f"http://127.0.0.1:{port}/v1/chat/completions"
            lanes = {
                DIRECT: Lane([(f"http://127.0.0.1:{p}/v1/chat/completions", "m") for p in up]),
                "through the server, `length` router": Lane([(via, "length")]),
                "through the server, `mf` router": Lane([(via, "mf")]),
            }
            measure(lanes, server.pid)
        finally:
            for child in (server, upstreams):
                child.terminate()
                child.wait(timeout=10)
    block = section(lanes)
    print(block)
    errors = {name: sum(not s.ok for s in lane.bursts + lane.sequential) for name, lane in lanes.items()}
    if any(errors.values()):
        raise SystemExit(f"failed requests: {errors}")
    write_section(args.out, START, END, block)
    print(f"wrote the server load test into {args.out}")


if __name__ == "__main__":
    main()
