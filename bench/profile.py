"""Where a request's time goes: the lookup cases run in this process, through Django's whole
request cycle (middleware, DRF, services, cache, database) under the benchmark's production
settings, on a database bench/run.py seeded. Prints each case's time per request; with
--profile also writes a pyinstrument profile of it to bench/results/profile-<case>.txt.

    .venv/bin/python bench/profile.py          # on the seed of bench/run.py --scale 0.01
    .venv/bin/python bench/profile.py --cases verify --profile -n 2000

No nginx, gunicorn or wrk: compare cases with each other and before/after a change, not with
bench/run.py's ratios. CPU time is given beside wall time: the machine is shared."""

import argparse
import os
import random
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(BENCH_DIR.parent))
import run as bench  # noqa: E402
import seed as seeding  # noqa: E402


def cases(phones: int, assignments: int, key: str):
    from django.test import Client

    api = Client(HTTP_AUTHORIZATION=f"Api-Key {key}", HTTP_HOST="127.0.0.1")
    page = Client(HTTP_HOST="127.0.0.1")

    def staff_number() -> str:
        return f"+8491{random.randrange(phones):07d}"

    return {
        "ceiling": lambda i: api.get("/healthz"),
        "hot": lambda i: api.get(f"/api/v1/numbers/+8491{i % 64:07d}/"),
        "cold": lambda i: api.get(f"/api/v1/numbers/{staff_number()}/"),
        "verify": lambda i: api.post(
            "/api/v1/verifications/",
            {
                "number": staff_number(),
                "tracking_code": f"BN{random.randrange(assignments):010d}",
                "recipient_phone": "0901 234 567",
            },
            content_type="application/json",
        ),
        "page": lambda i: page.post("/", {"number": staff_number()}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=0.01, help="the seed bench/run.py made")
    parser.add_argument("--cases", nargs="+", default=["ceiling", "hot", "cold", "verify", "page"])
    parser.add_argument("-n", type=int, default=3000, help="requests per case")
    parser.add_argument("--profile", action="store_true", help="and write a pyinstrument profile")
    bench.add_service_arguments(parser)
    args = parser.parse_args()
    database_url = bench.database_for(args.scale, args)
    os.environ.update(bench.server_env(database_url, args.redis))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.chdir(bench.ROOT)
    import django

    django.setup()
    from registry import services

    phones, assignments = seeding.sizes(args.scale)
    _api_key, key = services.api_key_create(name="bench-profile")
    run = cases(phones, assignments, key)
    for name in args.cases:
        request = run[name]
        for i in range(200):  # warm: connections, prepared statements, the hot verdicts
            assert request(i).status_code == 200, name
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(args.n):
            request(i)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"{name:8s} {wall / args.n * 1e3:6.3f} ms/request  (CPU {cpu / args.n * 1e3:.3f} ms)")
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002)
            with profiler:
                for i in range(args.n):
                    request(i)
            path = BENCH_DIR / "results" / f"profile-{name}.txt"
            path.parent.mkdir(exist_ok=True)
            path.write_text(profiler.output_text(unicode=False, color=False))
            print(f"         profile: {path}")


if __name__ == "__main__":
    main()
