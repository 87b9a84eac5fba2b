"""Label rendering per second per worker: one process, one thread, in-process (no HTTP, no
database), PDF and ZPL, each label a different parcel (its own tracking code and page URL,
hence its own barcode and QR code).

The machine is shared and noisy: every round measures a baseline first, in the same
process, alternating with the cases: a one-line reportlab PDF (the library's fixed cost per
document). The table gives each case's median rate over the rounds, the median of its
ratios to the baseline of the same round, and the targets of issue 13 (>= 50 PDF labels/s,
>= 500 ZPL labels/s per worker).

    .venv/bin/python bench/labels.py                 # 5 rounds of 3 s per case
    .venv/bin/python bench/labels.py --rounds 3 --seconds 2
    .venv/bin/python bench/labels.py --smoke         # a fraction of a second each (CI)
"""

import argparse
import io
import json
import os
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Rendering needs settings (the label's Vietnamese comes from the catalogue), not services.
for name in ("DATABASE_URL", "REDIS_URL"):
    os.environ.pop(name, None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from reportlab.pdfgen import canvas  # noqa: E402

from registry import labels  # noqa: E402

TARGETS = {"pdf": 50.0, "zpl": 500.0}
ADDRESS = (
    "Số 12 ngõ 34 phố Huỳnh Thúc Kháng, phường Láng Hạ, quận Đống Đa",
    "Hà Nội",
)


def label_content(index: int) -> labels.LabelContent:
    return labels.LabelContent(
        carrier_name="Bưu chính Demo",
        hotline="1900 1111",
        tracking_code=f"VN{index:010d}DM",
        recipient_initials=labels.mask_initials("Nguyễn Thị Thu Hà"),
        recipient_phone_masked=labels.mask_phone("+84901234567"),
        address_lines=ADDRESS,
        cod_amount=150000 + index,
        parcel_url=f"https://shipper-check.example.vn/p/{secrets.token_urlsafe(20)}/",
    )


def baseline(_index: int) -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(labels.WIDTH, labels.HEIGHT), invariant=1)
    pdf.drawString(20, 20, "baseline")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


CASES = {
    "baseline": baseline,
    "pdf": lambda index: labels.render_pdf(label_content(index)),
    "zpl": lambda index: labels.render_zpl(label_content(index)),
}


def rate(render, seconds: float, start: int) -> tuple[float, float, int]:
    """Labels per second of wall time and per second of this process's CPU time, rendering
    for `seconds`, and how many were rendered. On a machine shared with other work the
    wall rate is what this worker got; the CPU rate what a worker with a core of its own
    would get."""
    count, began, cpu_began = 0, time.perf_counter(), time.process_time()
    while True:
        render(start + count)
        count += 1
        elapsed = time.perf_counter() - began
        if elapsed >= seconds:
            cpu = max(time.process_time() - cpu_began, 1e-9)
            return count / elapsed, count / cpu, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--smoke", action="store_true", help="one short round (CI)")
    args = parser.parse_args()
    rounds, seconds = (1, 0.3) if args.smoke else (args.rounds, args.seconds)

    for render in CASES.values():  # warm up: fonts parsed, catalogue loaded
        render(0)
    rates = {name: [] for name in CASES}
    cpu_rates = {name: [] for name in CASES}
    ratios = {name: [] for name in CASES if name != "baseline"}
    rendered = 0
    for round_number in range(1, rounds + 1):
        this_round = {}
        for name, render in CASES.items():
            this_round[name], cpu_rate, count = rate(render, seconds, rendered)
            rendered += count
            rates[name].append(this_round[name])
            cpu_rates[name].append(cpu_rate)
        for name in ratios:
            ratios[name].append(this_round[name] / this_round["baseline"])
        print(
            f"round {round_number}/{rounds}: "
            + ", ".join(f"{name} {value:.1f}/s" for name, value in this_round.items()),
            file=sys.stderr,
            flush=True,
        )

    rows = []
    for name in CASES:
        median = statistics.median(rates[name])
        cpu_median = statistics.median(cpu_rates[name])
        row = {
            "case": name,
            "labels_per_second": round(median, 1),
            "labels_per_cpu_second": round(cpu_median, 1),
        }
        if name in ratios:
            row["ratio_to_baseline"] = round(statistics.median(ratios[name]), 4)
            row["target"] = TARGETS[name]
            row["meets_target_wall"] = median >= TARGETS[name]
            row["meets_target_cpu"] = cpu_median >= TARGETS[name]
        rows.append(row)

    header = f"{'case':<9} {'labels/s':>9} {'per CPU s':>10} {'vs baseline':>12} {'target':>7}"
    print(f"\n{header}  met (wall / CPU)")
    for row in rows:
        ratio = row.get("ratio_to_baseline")
        target = row.get("target")
        met = (
            ""
            if target is None
            else " / ".join(
                "yes" if row[key] else "NO" for key in ("meets_target_wall", "meets_target_cpu")
            )
        )
        print(
            f"{row['case']:<9} {row['labels_per_second']:>9.1f} "
            f"{row['labels_per_cpu_second']:>10.1f} "
            f"{'' if ratio is None else f'{ratio:.3f}':>12} "
            f"{'' if target is None else f'{target:.0f}':>7}  {met}"
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(f"\n{rounds} round(s) of {seconds} s per case; load average at the end: {load:.2f}")

    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "rounds": rounds,
        "seconds_per_case": seconds,
        "cpus": os.cpu_count(),
        "load_average_1min": load,
        "rows": rows,
        "rates_per_round": rates,
        "cpu_rates_per_round": cpu_rates,
    }
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (results / f"labels-{stamp}{'-smoke' if args.smoke else ''}.json").write_text(
        json.dumps(result, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
