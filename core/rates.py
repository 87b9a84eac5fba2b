"""Rate strings like `600/min`. No Django imports: settings.py reads rates with it."""

import re
from dataclasses import dataclass
from functools import lru_cache

RATE_PATTERN = re.compile(r"^([1-9][0-9]{0,8})/(s|sec|second|m|min|minute|h|hour|d|day)$")
PERIODS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int


@lru_cache(maxsize=256)
def parse_rate(text: str) -> Rate:
    match = RATE_PATTERN.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a rate like 600/min (per s, min, hour or day)")
    return Rate(int(match.group(1)), PERIODS[match.group(2)])
