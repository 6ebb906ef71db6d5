"""Measure stance's performance targets (DESIGN.md §8) and write benchmarks/RESULTS.md.

    python benchmarks/run_all.py            # the full set (several minutes)
    python benchmarks/run_all.py --quick    # smaller corpora, for a smoke check

What is measured, and how:

(a) Concurrency efficiency: N = 500 articles, C = 32, against the fake OpenAI server with
    L = 300 ms per request, running in its own process. Efficiency = ideal / measured, with
    ideal = ceil(N / C) * L, measured from the start of the run to the last article written
    (the one-off report step after that is timed separately). One warm-up wave runs first
    (imports, tokenizer load, connections), and the server precomputes its answers
    (``--prime``) so that its latency is L and not L plus the baseline's CPU time.
    (a′) sends the same requests with bare ``OpenAIChatModel.complete`` calls from C
    workers, each sending its next request after handling its answer: what the SDK and
    the transport cost on this machine. stance beats it because its slots send the next
    prepared request before any answer is checked (see ``stance.analyze``).
(b) Client overhead per article at L = 0, C = 1: (client wall time - time the server spent
    answering) / N. The server reports its own handling time (``server_time_s``), so what
    is left is everything the client does — load, prepare, render, the SDK request and
    response, validation, grounding, cache and file writes — plus the loopback transport.
    The client's CPU time per article (time.process_time) is shown beside it as a
    cross-check that excludes the transport; ``--profile`` prints where it goes.
(c) Cached re-run: the (a) corpus run twice; server requests and wall time of the second.
(d) Peak RSS of a run at 1k and 10k articles, baseline and fake server (C = 16, L = 0):
    each run is a fresh process (started through a tiny launcher, because Linux carries
    the peak RSS of a parent across exec) that reads getrusage(RUSAGE_SELF).ru_maxrss when
    the last article is written ("analysis": load, model calls, grounding, cache, per-article
    files) and at exit ("whole run": plus positions.csv, the comparison and the reports).
    (d′) ``stance compare`` on the baseline's run folder, in a fresh process the same way:
    the comparison and reports rebuilt from the stored files. It streams the articles, but
    the comparison it builds grows with the corpus's findings (on this synthetic corpus
    ~29k shifts and a 176 MB comparison.json at 10k), as the run's report phase does, and
    it starts smaller than a run (no tokenizer or pipeline loaded), so its ratio is
    reported beside the absolute growth rather than held to the ×1.5 run target.
(e) Baseline throughput: articles per second for ``--model baseline``, in-process, to the
    last article written.

All runs go through the same code as ``stance run`` (``stance.cli.run._run``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import math
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from corpus import synthesise  # noqa: E402
from fake_process import FakeServerProcess  # noqa: E402

from stance.backends import resolve_extractor  # noqa: E402
from stance.cache import DEFAULT_CACHE_NAME, ResultCache  # noqa: E402
from stance.cli.run import _run  # noqa: E402
from stance.progress import RunProgress  # noqa: E402
from stance.ratelimit import limit_extractor  # noqa: E402


class _Clock(RunProgress):
    """Counts outcomes and notes when the last one arrived (no display)."""

    def __init__(self) -> None:
        super().__init__(enabled=False)
        self.last = 0.0
        self.last_cpu = 0.0

    def add(self, outcome: Any) -> None:
        super().add(outcome)
        self.last = time.perf_counter()
        self.last_cpu = time.process_time()


def run_client(
    corpus: Path, out: Path, model: str, *, base_url: str | None = None, concurrency: int = 8,
    cache: bool = True, clock: _Clock | None = None,
) -> dict[str, Any]:  # fmt: skip
    """One ``stance run`` in this process; times to the last article and to the end."""
    extractor = resolve_extractor(model, base_url=base_url)
    limit_extractor(extractor, concurrency=concurrency)
    store = ResultCache(out / DEFAULT_CACHE_NAME) if cache and model != "baseline" else None
    clock = clock or _Clock()
    cpu0, t0 = time.process_time(), time.perf_counter()
    try:
        manifest = asyncio.run(
            _run(extractor, (str(corpus),), out, concurrency, False, cache=store, progress=clock)
        )
    finally:
        if store is not None:
            store.close()
    end = time.perf_counter()
    return {
        "wall_s": clock.last - t0,
        "finish_s": end - clock.last,
        "cpu_s": clock.last_cpu - cpu0,
        "ok": clock.done,
        "failed": clock.failed,
        "cached": clock.cached,
        "manifest": manifest,
    }


def sdk_only_wall(corpus: Path, base_url: str, c: int) -> float:
    """The same requests sent by bare ``OpenAIChatModel.complete`` calls, nothing else.

    A reference for (a): how close the SDK alone, in naive workers, gets to ideal here.
    """
    from stance.loaders import Article, iter_articles
    from stance.prepare import prepare
    from stance.tokens import counter_for

    extractor: Any = resolve_extractor("fake-model", base_url=base_url)
    counter = counter_for(extractor.model)
    docs = [prepare(a, counter) for a in iter_articles([corpus]) if isinstance(a, Article)]
    requests = [extractor.messages_for(d, d.chunks[0]) for d in docs]

    async def run() -> float:
        todo = iter(requests)

        async def worker() -> None:
            for messages in todo:
                await extractor.chat.complete(messages, extractor.response_format)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(c)))
        wall = time.perf_counter() - t0
        await extractor.aclose()
        return wall

    return asyncio.run(run())


def bench_efficiency(tmp: Path, n: int, c: int, latency: float) -> dict[str, Any]:
    corpus = synthesise(tmp / f"corpus-{n}", n)
    out = tmp / "out-eff"
    warm = synthesise(tmp / "warm-eff", c, seed=97)
    with FakeServerProcess(latency=latency, prime=[corpus, warm]) as srv:
        # warm-up (imports, tokenizer load, connection pool): fixed costs, reported apart
        cold = run_client(warm, tmp / "out-warm-eff", "fake-model", base_url=srv.base_url,
                          concurrency=c)  # fmt: skip
        r = run_client(corpus, out, "fake-model", base_url=srv.base_url, concurrency=c)
        first_requests = srv.requests()
        # (c) the same command again: everything should come from the cache
        again = run_client(corpus, out, "fake-model", base_url=srv.base_url, concurrency=c)
        second_requests = srv.requests() - first_requests
        sdk_wall = sdk_only_wall(corpus, srv.base_url, c)
    ideal = math.ceil(n / c) * latency
    return {
        "n": n, "c": c, "latency_s": latency, "ideal_s": ideal, "wall_s": r["wall_s"],
        "warmup_one_wave_s": cold["wall_s"],
        "efficiency": ideal / r["wall_s"], "sdk_only_efficiency": ideal / sdk_wall,
        "client_cpu_ms_per_article": r["cpu_s"] / n * 1000,
        "finish_s": r["finish_s"], "ok": r["ok"],
        "failed": r["failed"], "requests": first_requests,
        "rerun_requests": second_requests, "rerun_wall_s": again["wall_s"],
        "rerun_finish_s": again["finish_s"], "rerun_cached": again["cached"],
    }  # fmt: skip


def bench_overhead(tmp: Path, n: int, profile: bool) -> dict[str, Any]:
    corpus = synthesise(tmp / f"corpus-ovh-{n}", n, seed=11)
    warm = synthesise(tmp / "warm", 5, seed=99)
    with FakeServerProcess(latency=0.0, prime=[corpus, warm]) as srv:
        # warm-up: imports, tokenizer, connection pool, template compilation
        run_client(warm, tmp / "out-warm", "fake-model", base_url=srv.base_url, concurrency=1)
        before = srv.stats()
        r = run_client(corpus, tmp / "out-ovh", "fake-model", base_url=srv.base_url,
                       concurrency=1, cache=True)  # fmt: skip
        after = srv.stats()
        prof = cProfile.Profile() if profile else None
        if prof is not None:  # a separate run: the profiler slows what it watches
            prof.enable()
            run_client(corpus, tmp / "out-prof", "fake-model", base_url=srv.base_url,
                       concurrency=1, cache=False)  # fmt: skip
            prof.disable()
    server_s = after.get("server_time_s", 0.0) - before.get("server_time_s", 0.0)
    requests = after.get("requests", 0) - before.get("requests", 0)
    res = {
        "n": n, "wall_s": r["wall_s"], "server_s": server_s, "requests": requests,
        "overhead_ms": (r["wall_s"] - server_s) / n * 1000,
        "client_cpu_ms": r["cpu_s"] / n * 1000, "ok": r["ok"], "failed": r["failed"],
    }  # fmt: skip
    if prof is not None:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(25)
        res["profile"] = buf.getvalue()
    return res


def rss_child(model: str, corpus: str, out: str, base_url: str | None) -> None:
    """(d), inside a fresh process: one run, peak RSS at the last article and at the end."""
    import resource

    def peak_mb() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB

    class Probe(_Clock):
        stream_peak = 0.0

        def add(self, outcome: Any) -> None:
            super().add(outcome)
            self.stream_peak = peak_mb()

    probe = Probe()
    r = run_client(Path(corpus), Path(out), model, base_url=base_url, concurrency=16, clock=probe)
    print(json.dumps({"stream_peak_mb": probe.stream_peak, "total_peak_mb": peak_mb(),
                      "ok": r["ok"], "failed": r["failed"], "wall_s": r["wall_s"],
                      "finish_s": r["finish_s"]}))  # fmt: skip


# Linux carries a process's peak RSS across exec, so a child started straight from this
# (by then large) process would report at least our size. A tiny launcher in between
# gives the measured process a clean start.
_LAUNCH = "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"


# (d) for `stance compare OUT`: the CLI in a fresh process, then its own peak RSS.
_COMPARE_CHILD = (
    "import json, resource, sys; sys.path.insert(0, sys.argv[1]); from stance.cli import cli; "
    "cli.main(['compare', sys.argv[2]], standalone_mode=False); "
    "print(json.dumps({'total_peak_mb': "
    "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))"
)


def bench_memory(tmp: Path, sizes: list[int]) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    with FakeServerProcess(latency=0.0) as srv:
        for size in sizes:
            corpus = synthesise(tmp / f"corpus-mem-{size}", size, seed=3)
            for label, model, url in (
                ("baseline", "baseline", "-"),
                ("fake server", "fake-model", srv.base_url),
            ):
                out = tmp / f"out-mem-{size}-{model}"
                child = [__file__, "--rss-child", model, str(corpus), str(out), url]
                cmd = [sys.executable, "-c", _LAUNCH, sys.executable, *child]
                done = subprocess.run(cmd, capture_output=True, text=True, check=True)
                rows[f"{label} {size}"] = json.loads(done.stdout.strip().splitlines()[-1])
                if model == "baseline":
                    cmd = [sys.executable, "-c", _LAUNCH, sys.executable, "-c", _COMPARE_CHILD,
                           str(ROOT), str(out)]  # fmt: skip
                    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
                    row = json.loads(done.stdout.strip().splitlines()[-1])
                    rows[f"stance compare {size}"] = row
                shutil.rmtree(out, ignore_errors=True)
    return rows


def bench_baseline(tmp: Path, n: int) -> dict[str, Any]:
    corpus = synthesise(tmp / f"corpus-base-{n}", n, seed=5)
    run_client(synthesise(tmp / "warm-b", 5, seed=98), tmp / "out-warm-b", "baseline")
    r = run_client(corpus, tmp / "out-base", "baseline", concurrency=8)
    return {"n": n, "wall_s": r["wall_s"], "per_s": n / r["wall_s"], "ok": r["ok"],
            "failed": r["failed"], "finish_s": r["finish_s"]}  # fmt: skip


def machine() -> dict[str, str]:
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _ok(flag: bool) -> str:
    return "yes" if flag else "**NO**"


def render(results: dict[str, Any], args: argparse.Namespace, command: str) -> str:
    m = machine()
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{command}` on {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}.",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, {m['platform']}.",
        f"Load average (1 min) before/after each step: {results.get('load', {})} "
        "(a shared machine: other work on it slows every figure here).",
        "The fake OpenAI server (`benchmarks/fake_server.py`) runs in its own process.",
        "",
        "| Measure | Measured | Target | Met |",
        "|---|---|---|---|",
    ]
    if "efficiency" in results:
        e = results["efficiency"]
        lines.append(
            f"| (a) concurrency efficiency, N={e['n']} C={e['c']} L={e['latency_s'] * 1000:.0f} ms"
            f" | {e['efficiency']:.3f} (ideal {e['ideal_s']:.2f} s, measured {e['wall_s']:.2f} s)"
            f" | ≥ 0.90 | {_ok(e['efficiency'] >= 0.90)} |"
        )
        lines.append(
            f"| (a′) diagnostic: the openai SDK alone, same requests | "
            f"{e['sdk_only_efficiency']:.3f} | - | - |"
        )
    if "overhead" in results:
        o = results["overhead"]
        lines.append(
            f"| (b) client overhead per article, L=0, C=1 | {o['overhead_ms']:.2f} ms"
            f" (client CPU {o['client_cpu_ms']:.2f} ms) | < 5 ms | {_ok(o['overhead_ms'] < 5)} |"
        )
    if "efficiency" in results:
        e = results["efficiency"]
        lines.append(
            f"| (c) cached re-run of the (a) corpus | {e['rerun_requests']} calls, "
            f"{e['rerun_wall_s']:.2f} s (+{e['rerun_finish_s']:.2f} s reports) | 0 calls | "
            f"{_ok(e['rerun_requests'] == 0)} |"
        )
    if "memory" in results:
        mem = results["memory"]
        for label in ("baseline", "fake server", "stance compare"):
            keys = sorted((k for k in mem if k.startswith(label + " ")),
                          key=lambda k: int(k.split()[-1]))  # fmt: skip
            if len(keys) < 2:
                continue
            small, big = mem[keys[0]], mem[keys[-1]]
            sizes = f"{keys[0].split()[-1]} → {keys[-1].split()[-1]} articles"
            phases = [("analysis", "stream_peak_mb"), ("whole run", "total_peak_mb")]
            if label == "stance compare":
                phases = [("of the baseline run", "total_peak_mb")]
            for phase, key in phases:
                ratio = big[key] / small[key]
                if label == "stance compare":  # no target of its own: see the docstring
                    lines.append(
                        f"| (d′) peak RSS, stance compare, {phase}, {sizes} | "
                        f"{small[key]:.0f} MB → {big[key]:.0f} MB (×{ratio:.2f}, "
                        f"+{big[key] - small[key]:.0f} MB) | (reported) | - |"
                    )
                    continue
                lines.append(
                    f"| (d) peak RSS, {label}, {phase}, {sizes} | {small[key]:.0f} MB → "
                    f"{big[key]:.0f} MB (×{ratio:.2f}) | ≤ ×1.5 | {_ok(ratio <= 1.5)} |"
                )
    if "baseline" in results:
        b = results["baseline"]
        lines.append(
            f"| (e) baseline throughput, {b['n']} articles | {b['per_s']:.0f} articles/s | "
            "(reported) | - |"
        )
    lines += ["", "## Details", "", "```json", json.dumps(
        {k: {kk: vv for kk, vv in v.items() if kk != "profile"} if isinstance(v, dict) else v
         for k, v in results.items()}, indent=2, default=str), "```", ""]  # fmt: skip
    lines += ["## Method", "", (__doc__ or "").split("What is measured, and how:")[1].strip(), ""]
    if "overhead" in results and "profile" in results["overhead"]:
        lines += ["## Client profile at L = 0, C = 1, reports included (cumulative, top 25)",
                  "", "```",
                  results["overhead"]["profile"].strip(), "```", ""]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description="Run stance's benchmarks; write benchmarks/RESULTS.md.")
    p.add_argument("--quick", action="store_true", help="small corpora, for a smoke check")
    p.add_argument("--only", default="a,b,c,d,e", help="comma-separated subset of a,b,c,d,e")
    p.add_argument("--profile", action="store_true", help="add a cProfile of the client at L=0")
    p.add_argument("-o", "--output", default=str(HERE / "RESULTS.md"))
    p.add_argument(
        "--rss-child", nargs=4, metavar=("MODEL", "CORPUS", "OUT", "URL"), help=argparse.SUPPRESS
    )  # internal: one (d) measurement
    args = p.parse_args()
    if args.rss_child:
        model, corpus, out, url = args.rss_child
        rss_child(model, corpus, out, None if url == "-" else url)
        return
    only = set(args.only.split(","))
    command = "python benchmarks/run_all.py" + "".join(f" {a}" for a in sys.argv[1:])
    results: dict[str, Any] = {}
    steps: list[tuple[str, str, Callable[[Path], Any]]] = []
    n_eff = 160 if args.quick else 500
    if only & {"a", "c"}:
        steps.append(("efficiency", "a+c", lambda t: bench_efficiency(t, n_eff, 32, 0.3)))
    if "b" in only:
        steps.append(("overhead", "b", lambda t: bench_overhead(t, 100 if args.quick else 500,
                                                                 args.profile)))  # fmt: skip
    if "d" in only:
        sizes = [200, 2000] if args.quick else [1000, 10000]
        steps.append(("memory", "d", lambda t: bench_memory(t, sizes)))
    if "e" in only:
        steps.append(("baseline", "e", lambda t: bench_baseline(t, 300 if args.quick else 1000)))
    with tempfile.TemporaryDirectory(prefix="stance-bench-") as d:
        load: dict[str, str] = {}
        for key, label, fn in steps:
            print(f"[{label}] {key} ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            before = os.getloadavg()[0]
            results[key] = fn(Path(d))
            load[label] = f"{before:.2f}/{os.getloadavg()[0]:.2f}"
            print(f"[{label}] done in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        results["load"] = load
    text = render(results, args, command)
    Path(args.output).write_text(text, encoding="utf-8")
    print(text.split("## Details")[0])


if __name__ == "__main__":
    main()
