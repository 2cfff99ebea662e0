"""The token estimate on what a worker's loop weighs: each request is the one before plus a
step (a tool call and its result), weighed whole, as the history, the window guard and the
scripted provider do. slop's estimate (segments and pieces from tables) against the baseline
it replaced: every piece of every text priced again (the same prices, a Python loop).

Prints the seconds of each over the same requests, their ratio, and checks that both give the
same weight to every request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from slop_tui.tokens import _MARGIN, _PIECE, _piece_price, token_weight

ROOT = Path(__file__).resolve().parents[1]
STEPS = 40


def baseline(text: str) -> float:
    """The estimate before the tables: a loop over the text's pieces."""
    return sum(_piece_price(piece) for piece in _PIECE.findall(text)) * _MARGIN


def requests() -> list[str]:
    """A growing conversation: a system prompt, then one file of slop_tui read per step."""
    files = sorted((ROOT / "slop_tui").rglob("*.py"))
    system = (ROOT / "slop_tui" / "tokens.py").read_text(encoding="utf-8")
    out, text = [], system
    for n in range(STEPS):
        path = files[n % len(files)]
        text += f"\n[tool call {n}] read_file {path.name}\n" + path.read_text(encoding="utf-8")
        out.append(text)
    return out


def timed(weigh: Callable[[str], float], texts: list[str]) -> tuple[float, list[float]]:
    started = time.perf_counter()
    weights = [weigh(text) for text in texts]
    return time.perf_counter() - started, weights


def main() -> None:
    texts = requests()
    size = sum(map(len, texts))
    base_s, base_w = timed(baseline, texts)
    slop_s, slop_w = timed(token_weight, texts)
    same = all(abs(a - b) < 1e-6 * max(1.0, a) for a, b in zip(base_w, slop_w))
    print(f"{STEPS} requests, {size / 1e6:.1f} MB weighed in all (the last {len(texts[-1]) / 1e3:.0f} kB)")
    print(f"baseline (every piece priced again): {base_s:.3f} s  {size / base_s / 1e6:.1f} MB/s")
    print(f"slop (segments and pieces from tables): {slop_s:.3f} s  {size / slop_s / 1e6:.1f} MB/s")
    print(f"slop / baseline: {slop_s / base_s:.2f}   same weights: {same}")
    if not same:
        raise SystemExit("the two estimates differ")


if __name__ == "__main__":
    main()
