"""What a per-address limit of the web lookup does to recipients behind one carrier-grade NAT
address (docs/rate-limits.md): a seeded simulation of one busy hour, counted in the same
fixed windows as core.ratelimit.

    .venv/bin/python bench/cgnat.py

Each recipient arrives at a random moment (Poisson), checks the calling number 1 to 3 times
(50 % once, 30 % twice, 20 % three times: a retype, a tracking code added) 15 to 45 s apart,
and is counted as refused if any of their lookups is over the limit."""

import os
import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from core.ratelimit import Window  # noqa: E402
from core.rates import parse_rate  # noqa: E402

HOUR = 3600
ADDRESS_LIMITS = ["20/min", "60/min", "120/min", "300/min"]
ARRIVALS_PER_MINUTE = [1, 3, 10, 30, 60, 100]


def sessions(rng: random.Random, per_minute: float) -> list[list[float]]:
    """Lookup times of each recipient arriving in the hour."""
    users, now = [], 0.0
    while True:
        now += rng.expovariate(per_minute / 60)
        if now >= HOUR:
            return users
        count = rng.choices([1, 2, 3], weights=[50, 30, 20])[0]
        times = [now]
        for _ in range(count - 1):
            times.append(times[-1] + rng.uniform(15, 45))
        users.append(times)


def refused_share(users: list[list[float]], limit: str, per_browser: str | None) -> float:
    """Share of recipients with at least one lookup refused, lookups taken in time order."""
    rate = parse_rate(limit)
    lookups = sorted((at, user) for user, times in enumerate(users) for at in times)
    address, browsers, refused = Counter(), Counter(), set()
    browser_rate = parse_rate(per_browser) if per_browser else None
    for at, user in lookups:
        window = Window("address", rate, at)
        address[window.index] += 1
        over = address[window.index] > rate.count
        if browser_rate:
            own = Window(f"browser:{user}", browser_rate, at)
            browsers[(user, own.index)] += 1
            over = over or browsers[(user, own.index)] > browser_rate.count
        if over:
            refused.add(user)
    return len(refused) / max(1, len(users))


def main() -> None:
    rng = random.Random(2018)
    header = (
        "| recipients arriving per minute | "
        + " | ".join(f"per address {limit}" for limit in ADDRESS_LIMITS)
        + " | per browser 20/min under 300/min |"
    )
    print(header)
    print("|" + "---|" * (len(ADDRESS_LIMITS) + 2))
    for per_minute in ARRIVALS_PER_MINUTE:
        runs = [sessions(rng, per_minute) for _ in range(20)]
        cells = []
        for limit in [*ADDRESS_LIMITS, None]:
            shares = [
                refused_share(users, limit or "300/min", "20/min" if limit is None else None)
                for users in runs
            ]
            cells.append(f"{100 * sum(shares) / len(shares):.1f} %")
        print(f"| {per_minute} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
