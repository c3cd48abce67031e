"""Load test of `rnnkit serve` on 127.0.0.1: N concurrent clients classify reviews for a fixed
time against a sentiment model, with request batching and without (--batch-wait-ms 0).

Each configuration starts its own server (`python -m rnnkit serve`, a subprocess, so that the
clients' threads do not share its interpreter), waits for /health, then runs N client threads,
each with one kept-alive HTTP connection sending one review per request, one request after
another, for --seconds. Reported: requests/s, p50/p99 latency, failed requests (any status but
200, or a broken connection), and the server's model calls (from /metrics): texts per call > 1
is batching at work. A benchmark, not a test: it asserts nothing.

    python benchmarks/serve_load.py --checkpoint runs/sentiment/best            # 8 and 32
    python benchmarks/serve_load.py --checkpoint CKPT --clients 8 64 --seconds 30 --threads 1

The reviews are the first --reviews lines of $RNNKIT_SHARED_DATA/imdb/train.tsv.gz (or --data
FILE of label<TAB>text lines); without either, a few built-in sentences.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

SENTENCES = [
    "A wonderful film with a moving story and fine acting.",
    "Dull, far too long, and the plot makes no sense at all.",
    "I enjoyed every minute; the cast is excellent.",
    "The worst movie I have seen this year, a waste of time.",
]


def reviews(path: str | None, n: int) -> list[str]:
    if path is None:
        shared = os.environ.get("RNNKIT_SHARED_DATA")
        candidate = Path(shared) / "imdb" / "train.tsv.gz" if shared else None
        if candidate is None or not candidate.is_file():
            return SENTENCES
        path = str(candidate)
    opener = gzip.open if path.endswith(".gz") else open
    out = []
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if len(out) == n:
                break
            _, _, text = line.rstrip("\n").partition("\t")
            if text.strip():
                out.append(text)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(checkpoint: str, port: int, wait_ms: float, threads: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "rnnkit", "serve", "--checkpoint", f"bench={checkpoint}"]
    command += ["--port", str(port), "--batch-wait-ms", str(wait_ms)]
    command += ["--num-threads", str(threads), "--max-batch", "64"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if get_json(port, "/health")["status"] == "ok":
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start within 120 s")


def get_json(port: int, path: str) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def client(
    port: int, texts: list[str], start: int, until: float, out: list[float], failures: list[int]
) -> None:
    """Send reviews until `until`, one at a time on one connection; latencies go to `out`."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    i = start
    while time.perf_counter() < until:
        body = json.dumps({"texts": [texts[i % len(texts)]]})
        i += 1
        sent = time.perf_counter()
        try:
            connection.request(
                "POST", "/v1/bench/classify", body, {"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        if ok:
            out.append(time.perf_counter() - sent)
        else:
            failures.append(1)
    connection.close()


def run(args: argparse.Namespace, texts: list[str], wait_ms: float, clients: int) -> dict:
    port = free_port()
    server = start_server(args.checkpoint, port, wait_ms, args.threads)
    try:
        # warm-up: a few requests, so that the first model call is not timed
        warm: list[float] = []
        client(port, texts, 0, time.perf_counter() + 1.0, warm, [])
        calls_before = get_json(port, "/metrics")["batching"]["bench"]["model_calls"]
        latencies: list[list[float]] = [[] for _ in range(clients)]
        failures: list[int] = []
        until = time.perf_counter() + args.seconds
        threads = [
            threading.Thread(
                target=client, args=(port, texts, 97 * i, until, latencies[i], failures)
            )
            for i in range(clients)
        ]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        calls = get_json(port, "/metrics")["batching"]["bench"]["model_calls"] - calls_before
    finally:
        server.terminate()
        server.wait(timeout=30)
    ms = np.concatenate([np.asarray(x) for x in latencies]) * 1000.0
    return {
        "batching": f"{wait_ms:g} ms" if wait_ms > 0 else "off",
        "clients": clients,
        "requests": len(ms),
        "req_per_s": len(ms) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)) if len(ms) else float("nan"),
        "p99_ms": float(np.percentile(ms, 99)) if len(ms) else float("nan"),
        "failed": len(failures),
        "texts_per_call": len(ms) / calls if calls else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a sentiment checkpoint")
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--batch-wait-ms", type=float, nargs="+", default=[5.0, 0.0])
    parser.add_argument("--threads", type=int, default=1, help="the server's torch threads")
    parser.add_argument("--data", default=None, help="label<TAB>text lines (default: IMDB)")
    parser.add_argument("--reviews", type=int, default=512)
    args = parser.parse_args()
    texts = reviews(args.data, args.reviews)
    words = np.mean([len(t.split()) for t in texts])
    print(f"{len(texts)} reviews of {words:.0f} words on average; {args.seconds:g} s per row")
    print("| batching | clients | requests | req/s | p50 ms | p99 ms | failed | texts/call |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for clients in args.clients:
        for wait_ms in args.batch_wait_ms:
            r = run(args, texts, wait_ms, clients)
            print(
                f"| {r['batching']} | {r['clients']} | {r['requests']} | {r['req_per_s']:.1f} "
                f"| {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['failed']} "
                f"| {r['texts_per_call']:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
