"""The benchmark: seed PostgreSQL at scale, serve with scripts/serve (nginx in front of
gunicorn, as in production) under production settings, drive load with wrk, and compare each
case with a ceiling (/healthz) measured in the same session, alternating, over several
rounds. Then the hot lookup on scripts/serve against plain gunicorn (no nginx), both up at
once, alternating. Prints a table and writes it as JSON.

    make bench                 # full: 1,000,000 phones, 10,000,000 assignments
    make bench ARGS="--scale 0.1"
    make bench-smoke           # every case for a few seconds on a small seed (CI)
    make bench ARGS="--tuned"  # on a PostgreSQL cluster of its own, sized for the working set
"""

import argparse
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from http.cookiejar import CookieJar
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
import seed as seeding  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PYTHON = sys.executable
# BENCH_PORT, or a free port: benchmarks of several checkouts may share a machine.
PORT = int(os.environ.get("BENCH_PORT", "0")) or _free_port()
BASE = f"http://127.0.0.1:{PORT}"
# Plain gunicorn, for the serving comparison.
PLAIN_BASE = f"http://127.0.0.1:{_free_port()}"
CASES = ["hot", "cold", "verify", "ingest", "page"]
TARGETS = {"hot": 0.50, "cold": 0.30, "verify": 0.30, "page": 0.25}
# The cluster `--tuned` starts (PostgreSQL 15), sized for the full seed's working set on a
# machine with 24 GB shared with other work: docs/performance.md says why each.
TUNED_SETTINGS = [
    "shared_buffers=3GB",  # the registry and every day's assignment indexes: ~1.9 GB at 10 M
    "effective_cache_size=12GB",
    "random_page_cost=1.1",  # the data is in memory or on SSD: a random read is no dearer
    "work_mem=16MB",
    "maintenance_work_mem=512MB",
    "max_wal_size=8GB",  # the seed writes GBs of WAL: no checkpoint every 1 GB
    "checkpoint_timeout=30min",
    "checkpoint_completion_target=0.9",
    "fsync=on",  # the throwaway cluster's default is off: commits here cost what they do
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def receipt_key_file() -> str:
    """Production settings refuse to start without a receipt key: one made once, kept here."""
    path = BENCH_DIR / "results" / "receipt-key.pem"
    if not path.exists():
        from joserfc.jwk import ECKey

        path.parent.mkdir(exist_ok=True)
        path.write_bytes(ECKey.generate_key("P-256").as_pem(private=True))
    return str(path)


def server_env(database_url: str, redis_url: str) -> dict:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_ALLOW")},
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PII_HMAC_KEY": "bench-pii-key",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        # The limits are exercised (every request counts) but never reached.
        "API_RATE_LIMIT": "100000000/min",
        "WEB_RATE_LIMIT": "100000000/min",
        "WEB_ADDRESS_RATE_LIMIT": "100000000/min",
        "ACCESS_LOG": "0",
        "LOG_LEVEL": "WARNING",
        "PORT": str(PORT),
        "HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "2",
        "RECEIPT_SIGNING_KEY": receipt_key_file(),
    }


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(  # noqa: S603
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def ensure_database(database_url: str) -> None:
    name = database_url.rsplit("/", 1)[1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


class Server:
    """scripts/serve on BASE, or with `plain` gunicorn alone on PLAIN_BASE; each in a process
    group of its own, with metrics counted in a fresh directory as scripts/serve does."""

    def __init__(self, env: dict, plain: bool = False):
        self.plain = plain
        self.base = PLAIN_BASE if plain else BASE
        self.metrics_dir = tempfile.TemporaryDirectory(prefix="bench-metrics-")
        self.env = {**env, "PROMETHEUS_MULTIPROC_DIR": self.metrics_dir.name}
        if plain:
            self.env["BIND"] = self.base.removeprefix("http://")
        self.process = None

    def __enter__(self):
        command = (
            [PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py", "config.wsgi"]
            if self.plain
            else [str(ROOT / "scripts" / "serve")]
        )
        self.process = subprocess.Popen(  # noqa: S603
            command,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.base}/healthz", timeout=1).read()  # noqa: S310
                return self
            except OSError:
                if self.process.poll() is not None:
                    stderr = self.process.stderr.read().decode()[-3000:]
                    raise SystemExit(f"{command[-1]} exited: {stderr}") from None
                time.sleep(0.3)
        raise SystemExit(f"{command[-1]} did not answer /healthz within 120 s")

    def worker_rss_mb(self) -> list[float]:
        """The gunicorn workers: the processes of the group whose parent is gunicorn."""
        sizes = []
        for pid in _descendants(self.process.pid):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue  # a worker recycled (max_requests) since it was listed
            parent = re.search(r"PPid:\s+(\d+)", status).group(1)
            if "gunicorn" in _cmdline(pid) and "gunicorn" in _cmdline(parent):
                kb = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))
                sizes.append(round(kb / 1024, 1))
        return sizes

    def __exit__(self, *exc):
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)
        self.metrics_dir.cleanup()


def _descendants(pid) -> list[str]:
    children = subprocess.run(  # noqa: S603
        ["pgrep", "-P", str(pid)],  # noqa: S607
        capture_output=True,
        text=True,
    ).stdout.split()
    return children + [grandchild for child in children for grandchild in _descendants(child)]


def _cmdline(pid) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def drain(base: str, timeout: float = 120.0) -> None:
    """Wait until the workers have answered every request a run left queued: /healthz
    answering fast twice in a row. A slow case (ingest) otherwise eats into the next ceiling."""
    deadline, fast = time.monotonic() + timeout, 0
    while fast < 2 and time.monotonic() < deadline:
        started = time.monotonic()
        urllib.request.urlopen(f"{base}/healthz", timeout=timeout).read()  # noqa: S310
        fast = fast + 1 if time.monotonic() - started < 0.05 else 0
        time.sleep(0.2)


def wrk(
    case: str, seconds: float, connections: int, threads: int, env: dict, base: str = BASE
) -> dict:
    time.sleep(1)  # let the previous run's last requests drain out of the workers
    drain(base)
    result = subprocess.run(  # noqa: S603
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{int(seconds)}s",
            "--latency",  # noqa: S607
            "--timeout",
            "10s",
            "-s",
            str(BENCH_DIR / "wrk" / f"{case}.lua"),
            base,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    match = re.search(r"BENCH_JSON (\{.*\})", result.stdout)
    if not match:
        raise SystemExit(f"wrk {case} printed no summary:\n{result.stdout}\n{result.stderr}")
    data = json.loads(match.group(1))
    seconds_run = data["duration_us"] / 1e6
    return {
        "rps": data["requests"] / seconds_run,
        "p50_ms": data["p50_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
        "errors": data["errors"] + data["http_errors"],
        "requests": data["requests"],
    }


def prepare(env: dict) -> dict:
    """Keys, static files, warm hot numbers, a CSRF token for the page case."""
    partner = manage(env, "create_api_key", "bench-partner").strip().splitlines()[-1]
    carrier = manage(env, "create_api_key", "bench-dispatch", "--carrier", "bench-00")
    carrier = carrier.strip().splitlines()[-1]
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(f"{BASE}/").read().decode()  # noqa: S310
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    cookie = next(c.value for c in jar if c.name == "csrftoken")
    return {
        "BENCH_KEY": partner,
        "BENCH_CARRIER_KEY": carrier,
        "BENCH_CSRF_TOKEN": token,
        "BENCH_CSRF_COOKIE": cookie,
    }


def warm_hot_numbers(key: str, base: str = BASE) -> None:
    for k in range(64):
        request = urllib.request.Request(
            f"{base}/api/v1/numbers/+8491{k:07d}/", headers={"Authorization": f"Api-Key {key}"}
        )
        urllib.request.urlopen(request).read()  # noqa: S310


def flush_cache(redis_url: str) -> None:
    subprocess.run(["redis-cli", "-u", redis_url, "flushdb"], capture_output=True)  # noqa: S603,S607


def measure(cases, rounds, seconds, connections, threads, env, redis_url) -> dict:
    """Each round runs, for each case, the ceiling and then the case: a noisy moment of the
    machine hits both sides of a ratio."""
    samples = {case: [] for case in cases}
    for round_no in range(1, rounds + 1):
        for case in cases:
            ceiling = wrk("ceiling", seconds, connections, threads, env)
            if case == "hot":
                warm_hot_numbers(env["BENCH_KEY"])
            if case == "cold":  # no verdict of the last round's numbers left in the cache
                flush_cache(redis_url)
            result = wrk(case, seconds, connections, threads, env)
            result["ceiling_rps"] = ceiling["rps"]
            result["ratio"] = result["rps"] / ceiling["rps"]
            samples[case].append(result)
            log(
                f"round {round_no} {case:7s} {result['rps']:9.1f} req/s  ceiling "
                f"{ceiling['rps']:9.1f}  ratio {result['ratio']:.2f}  p99 {result['p99_ms']:.1f} ms"
                f"  errors {result['errors']}"
            )
    return {case: summarise(values) for case, values in samples.items()}


def compare_serving(env: dict, wrk_env: dict, args) -> dict:
    """The hot lookup on scripts/serve (already up on BASE) and on plain gunicorn (started
    here on PLAIN_BASE), alternating round by round, each against its own ceiling; the
    serve/plain ratios of the medians say what nginx in front costs or gains."""
    runs = {"serve": [], "plain": []}
    with Server(env, plain=True):
        for round_no in range(1, args.rounds + 1):
            for name, base in (("serve", BASE), ("plain", PLAIN_BASE)):
                load = (args.duration, args.connections, args.threads, wrk_env, base)
                ceiling = wrk("ceiling", *load)
                warm_hot_numbers(wrk_env["BENCH_KEY"], base)
                hot = wrk("hot", *load)
                hot["ceiling_rps"], hot["ratio"] = ceiling["rps"], hot["rps"] / ceiling["rps"]
                runs[name].append(hot)
                log(
                    f"round {round_no} hot on {name:5s} {hot['rps']:9.1f} req/s  ceiling "
                    f"{ceiling['rps']:9.1f}  p99 {hot['p99_ms']:.1f} ms  errors {hot['errors']}"
                )
    serve, plain = summarise(runs["serve"]), summarise(runs["plain"])
    return {
        "serve": serve,
        "plain": plain,
        "hot_rps_serve_over_plain": serve["rps"] / plain["rps"],
        "hot_rps_serve_over_plain_per_round": [
            s["rps"] / p["rps"] for s, p in zip(runs["serve"], runs["plain"], strict=True)
        ],
    }


def summarise(values: list[dict]) -> dict:
    median = lambda key: statistics.median(v[key] for v in values)  # noqa: E731
    return {
        "rps": median("rps"),
        "ceiling_rps": median("ceiling_rps"),
        "ratio": median("ratio"),
        "p50_ms": median("p50_ms"),
        "p99_ms": median("p99_ms"),
        # The target holds in every round: the worst round is what a spike shows in.
        "p99_max_ms": max(v["p99_ms"] for v in values),
        "errors": sum(v["errors"] for v in values),
        "rounds": len(values),
        "ratios": [round(v["ratio"], 3) for v in values],
    }


def tuned_cluster(directory: str | None):
    """The benchmark's own PostgreSQL cluster, started with TUNED_SETTINGS on a free port
    (by tests/replica's code for throwaway clusters): (its workspace, to close, and the URL of
    its bench database). A `directory` keeps the cluster, and so its seed, between runs."""
    from tests.replica import cluster as pg

    if reason := pg.missing():
        raise SystemExit(f"--tuned {reason}")
    workspace = pg.Workspace(Path(directory) if directory else None)
    cluster = workspace.cluster("bench")
    if not (cluster.data / "PG_VERSION").exists():
        cluster.initdb()
    cluster.start(*TUNED_SETTINGS)
    log(f"tuned cluster: {cluster.data} on port {cluster.port}")
    return workspace, cluster.url("registry_bench")


def scale_report(database_url: str, env: dict, *options: str) -> dict:
    """bench/scale.py on the seeded database: partition sizes, the lookup queries' database
    time, and the retention purge of one day, row UPDATE against partition drop."""
    done = subprocess.run(  # noqa: S603
        [PYTHON, str(BENCH_DIR / "scale.py"), database_url, *options],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"bench/scale.py failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def database_for(scale: float, args) -> str:
    return f"{args.database}_{str(scale).replace('.', '_')}"


def run_scale(scale, args, redis_url) -> tuple[dict, list[float], tuple[int, int]]:
    database_url = database_for(scale, args)
    ensure_database(database_url)
    env = server_env(database_url, redis_url)
    log(f"== scale {scale}: {database_url}")
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "assignment_partitions", "--back", str(seeding.DAYS))
    phones, assignments = seeding.sizes(scale)
    started = time.monotonic()
    seeding.seed(database_url, phones, assignments, log=log)
    log(f"seed: done in {time.monotonic() - started:.0f} s")
    if args.prewarm:
        seeding.prewarm(database_url, log=log)
    manage(env, "collectstatic", "--noinput", "-v0")
    flush_cache(redis_url)
    with Server(env) as server:
        wrk_env = {
            **os.environ,
            **prepare(env),
            "BENCH_DIR": str(BENCH_DIR),
            "BENCH_PHONES": str(phones),
            "BENCH_ASSIGNMENTS": str(assignments),
            "BENCH_THREADS": str(args.threads),
        }
        cases = args.cases if scale == args.scale else ["cold"]
        results = measure(
            cases, args.rounds, args.duration, args.connections, args.threads, wrk_env, redis_url
        )
        rss = server.worker_rss_mb()
        if scale == args.scale and not args.no_serving_comparison:
            results["serving"] = compare_serving(env, wrk_env, args)
        return results, rss, (phones, assignments)


def add_service_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the seeded databases (one per scale) and the cache are: bench/profile.py too."""
    parser.add_argument(
        "--database",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/registry_bench"
        ),
    )
    parser.add_argument(
        "--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1M phones, 10M assignments")
    parser.add_argument("--smoke", action="store_true", help="small seed, a few seconds a case")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cases", nargs="+", default=CASES, choices=CASES)
    parser.add_argument("--no-flatness", action="store_true", help="skip the 1%% seed comparison")
    parser.add_argument(
        "--no-serving-comparison",
        action="store_true",
        help="skip the hot lookup on plain gunicorn against scripts/serve",
    )
    add_service_arguments(parser)
    parser.add_argument(
        "--tuned",
        action="store_true",
        help="start a PostgreSQL cluster of its own with TUNED_SETTINGS (instead of --database)",
    )
    parser.add_argument(
        "--tuned-dir", help="keep the --tuned cluster (and its seed) in this directory"
    )
    parser.add_argument(
        "--prewarm",
        action="store_true",
        help="load the lookups' tables and indexes into shared_buffers before measuring",
    )
    parser.add_argument(
        "--scale-report",
        action="store_true",
        help="then run bench/scale.py on the seed (partition sizes, purge of one day)",
    )
    parser.add_argument(
        "--national-day",
        action="store_true",
        help="with --scale-report: also the drop of a 10 M-row day partition",
    )
    args = parser.parse_args()
    if args.smoke:
        args.scale, args.duration, args.rounds, args.no_flatness = 0.001, 2.0, 1, True
    (BENCH_DIR / "results").mkdir(exist_ok=True)

    workspace = None
    if args.tuned:
        workspace, args.database = tuned_cluster(args.tuned_dir)
    try:
        report = run(args)
    finally:
        if workspace:
            workspace.close()
    print_table(report)
    name = "smoke" if args.smoke else f"{args.scale}{'-tuned' if args.tuned else ''}"
    path = BENCH_DIR / "results" / f"bench-{name}.json"
    path.write_text(json.dumps(report, indent=2))
    log(f"written: {path}")
    serving = report["serving"]
    served = [serving["serve"], serving["plain"]] if serving else []
    if any(case.get("errors") for case in [*report["cases"].values(), *served]):
        raise SystemExit("some requests failed: see the errors column")


def run(args) -> dict:
    results, rss, (phones, assignments) = run_scale(args.scale, args, args.redis)
    serving = results.pop("serving", None)
    scale = None
    if args.scale_report:  # after the lookups: the purge drops a day and marks the seed stale
        database_url = database_for(args.scale, args)
        national = ["--national-day"] if args.national_day else []
        scale = scale_report(database_url, server_env(database_url, args.redis), *national)
    flatness = None
    if not args.no_flatness:
        small, _rss, _sizes = run_scale(round(args.scale / 100, 6), args, args.redis)
        flatness = {
            "small_ratio": small["cold"]["ratio"],
            "full_ratio": results["cold"]["ratio"],
            "flatness": results["cold"]["ratio"] / small["cold"]["ratio"],
            "small_rounds": small["cold"]["ratios"],
            "full_rounds": results["cold"]["ratios"],
        }
    if "ingest" in results:
        results["ingest"]["items_per_s"] = results["ingest"]["rps"] * 1000

    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": args.scale,
        "postgresql": TUNED_SETTINGS if args.tuned else "the server's own settings",
        "phones": phones,
        "assignments": assignments,
        "connections": args.connections,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "cases": results,
        "flatness": flatness,
        "serving": serving,
        "worker_rss_mb": rss,
        "scale_report": scale,
    }


def print_table(report: dict) -> None:
    print(
        f"\n{report['phones']:,} phones, {report['assignments']:,} assignments, "
        f"{report['connections']} connections, "
        f"{report['rounds']} rounds of {report['duration_s']:g} s"
    )
    print(
        f"{'case':8s} {'req/s':>9s} {'ceiling':>9s} {'ratio':>6s} {'target':>7s} "
        f"{'p50 ms':>7s} {'p99 ms':>7s} {'worst':>7s} {'errors':>6s}"
    )
    for name, case in report["cases"].items():
        target = TARGETS.get(name)
        print(
            f"{name:8s} {case['rps']:9.1f} {case['ceiling_rps']:9.1f} {case['ratio']:6.2f} "
            f"{f'≥{target:.2f}' if target else '':>7s} {case['p50_ms']:7.1f} "
            f"{case['p99_ms']:7.1f} {case['p99_max_ms']:7.1f} {case['errors']:6d}"
        )
    if "ingest" in report["cases"]:
        print(f"ingest: {report['cases']['ingest']['items_per_s']:,.0f} items/s (target ≥ 10,000)")
    if report["flatness"]:
        print(
            "flatness: cold ratio at full seed / at 1% seed = "
            f"{report['flatness']['flatness']:.2f} (target ≥ 0.90)"
        )
    if report["serving"]:
        serving = report["serving"]
        rounds = ", ".join(f"{r:.2f}" for r in serving["hot_rps_serve_over_plain_per_round"])
        print(
            f"hot lookup, scripts/serve {serving['serve']['rps']:.1f} req/s "
            f"(p99 {serving['serve']['p99_ms']:.1f} ms) against plain gunicorn "
            f"{serving['plain']['rps']:.1f} req/s (p99 {serving['plain']['p99_ms']:.1f} ms): "
            f"ratio {serving['hot_rps_serve_over_plain']:.2f} "
            f"(per round {rounds})"
        )
    print(f"gunicorn workers resident: {report['worker_rss_mb']} MB (target < 150 each)")


if __name__ == "__main__":
    main()
