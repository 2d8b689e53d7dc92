"""Benchmark: the intake pipeline against a naive one, and fitting a large result under 10 MiB.

Run from the repository root:  .venv/bin/python -m bench.imaging
It makes its inputs itself (nothing is downloaded) and prints a Markdown table.

naive    = send the member's file as it is, base64-encoded (what many bots do)
pipeline = bot.inputs.prepare (decode once at reduced scale where possible, orient, downscale to
           2048 px, one JPEG/PNG encode) followed by the base64 the Gemini format needs
"""

from __future__ import annotations

import base64
import io
import os
import platform
import statistics
import time

from PIL import Image

from bot.imaging import fit_to_limit
from bot.inputs import InputLimits, prepare

RUNS = 5


def photo(width: int, height: int, grain: int) -> Image.Image:
    base = Image.radial_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), grain)
    return Image.merge("RGB", (base, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), noise))


def screenshot(width: int, height: int) -> Image.Image:
    """Flat panels, lines of 'text' and an embedded photo, as in a desktop screenshot."""
    img = Image.new("RGB", (width, height), (245, 246, 248))
    for y in range(0, height, 28):
        for x in range(40, width // 2, 9):
            if (x * 7 + y * 3) % 11 < 7:
                img.paste((40, 40, 48), (x, y + 8, x + 6, y + 18))
    img.paste(photo(width // 2 - 80, height // 2, 30), (width // 2 + 40, 120))
    return img


def encode(img: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def cpu_ms(func, *args) -> tuple[float, object]:
    times, result = [], None
    for _ in range(RUNS):
        started = time.process_time()
        result = func(*args)
        times.append((time.process_time() - started) * 1000)
    return statistics.median(times), result


def naive(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def pipeline(data: bytes) -> str:
    return prepare(data, "input", InputLimits()).b64


def main() -> None:
    inputs = {
        "12 MP camera JPEG (4000x3000, q92)": encode(photo(4000, 3000, 24), "JPEG", quality=92),
        "4K PNG screenshot (3840x2160)": encode(screenshot(3840, 2160), "PNG"),
        "20 MB photo (6800x4500 JPEG, q97)": encode(photo(6800, 4500, 60), "JPEG", quality=97),
    }
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, Pillow {Image.__version__}; median of {RUNS} runs, one thread\n"
    )
    print(
        "| input | file | naive: CPU | naive: bytes upstream | pipeline: CPU | pipeline: bytes upstream "
        "| pipeline / naive bytes | sent as |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, data in inputs.items():
        naive_ms, naive_b64 = cpu_ms(naive, data)
        pipe_ms, pipe_b64 = cpu_ms(pipeline, data)
        sent = Image.open(io.BytesIO(base64.b64decode(pipe_b64)))  # type: ignore[arg-type]
        print(
            f"| {name} | {len(data) / 2**20:.1f} MiB | {naive_ms:.0f} ms | {len(naive_b64):,} "  # type: ignore[arg-type]
            f"| {pipe_ms:.0f} ms | {len(pipe_b64):,} | {len(pipe_b64) / len(naive_b64):.2f} "  # type: ignore[arg-type]
            f"| {sent.format} {sent.width}x{sent.height} |"
        )

    result = encode(photo(4096, 4096, 18), "PNG")
    fit_ms, fitted = cpu_ms(fit_to_limit, result, 10 * 2**20)
    started = time.perf_counter()
    fit_to_limit(result, 10 * 2**20)
    wall = (time.perf_counter() - started) * 1000
    print(
        f"\nFitting a 4096x4096 PNG result of {len(result) / 2**20:.1f} MiB under 10 MiB: "
        f"{fit_ms:.0f} ms CPU, {wall:.0f} ms wall; sent as {fitted.mime} "  # type: ignore[union-attr]
        f"{fitted.width}x{fitted.height}, {len(fitted.data) / 2**20:.1f} MiB"  # type: ignore[union-attr]
    )


if __name__ == "__main__":
    main()
