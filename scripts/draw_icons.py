"""Draw the site's icon (a white shield with a check on the site's blue) as PNGs and an ICO,
without an imaging library."""

import math
import struct
import zlib
from pathlib import Path

BLUE = (11, 61, 145)
WHITE = (255, 255, 255)


def seg_dist(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = max(0, min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def shade(u, v):
    """Colour at (u, v) in [0,1]², with a little antialiasing done by supersampling."""
    # white circle
    r = math.hypot(u - 0.5, v - 0.5)
    if r > 0.40:
        return BLUE
    d = min(seg_dist(u, v, 0.31, 0.52, 0.44, 0.65), seg_dist(u, v, 0.44, 0.65, 0.70, 0.37))
    return BLUE if d < 0.055 else WHITE


def png(size):
    rows = []
    n = 3
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            acc = [0, 0, 0]
            for sy in range(n):
                for sx in range(n):
                    c = shade((x + (sx + 0.5) / n) / size, (y + (sy + 0.5) / n) / size)
                    for i in range(3):
                        acc[i] += c[i]
            row += bytes(round(a / (n * n)) for a in acc)
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def ico(png_bytes, size):
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", size, size, 0, 0, 1, 32, len(png_bytes), 6 + 16)
    return header + entry + png_bytes


out = Path(__file__).resolve().parent.parent / "static"
for size in (192, 512):
    (out / "icons" / f"icon-{size}.png").write_bytes(png(size))
(out / "icons" / "apple-touch-icon.png").write_bytes(png(180))
(out / "favicon.ico").write_bytes(ico(png(32), 32))
