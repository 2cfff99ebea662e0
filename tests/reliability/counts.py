"""The figures each part of the suite reports: named counters per part, kept for the session.

Tests call `tally(part).add(name, n)`; `conftest.pytest_terminal_summary` prints one line per
part, in the order the parts first counted something, so the run's output carries the figures
the closing note quotes (e.g. `malformed plans: 140 cases, 140 refused precisely, 0 crashes`).
"""

from __future__ import annotations

from collections import Counter


class Tally:
    """Counters of one part, printed in the order their names were first declared."""

    def __init__(self, part: str, names: tuple[str, ...]) -> None:
        self.part = part
        self.counter: Counter[str] = Counter({name: 0 for name in names})
        self.order: list[str] = list(names)
        self.totals: Counter[str] = Counter()  # names counted as "N of M" (see `add_of`)

    def add(self, name: str, n: int = 1) -> None:
        if name not in self.order:
            self.order.append(name)
        self.counter[name] += n

    def add_of(self, name: str, ok: bool) -> None:
        """One more case of `name`, counted when `ok`: printed as `N of M name`."""
        self.add(name, int(ok))
        self.totals[name] += 1

    def __getitem__(self, name: str) -> int:
        return self.counter[name]

    def line(self) -> str:
        return f"{self.part}: " + ", ".join(self._figure(n) for n in self.order)

    def _figure(self, name: str) -> str:
        if name in self.totals:
            return f"{self.counter[name]} of {self.totals[name]} {name}"
        return f"{self.counter[name]} {name}"


_TALLIES: dict[str, Tally] = {}


def tally(part: str, *names: str) -> Tally:
    """The counters of `part`, created on first use with `names` declared (shown even at 0)."""
    found = _TALLIES.get(part)
    if found is None:
        found = _TALLIES[part] = Tally(part, names)
    else:
        for name in names:
            if name not in found.order:
                found.order.append(name)
    return found


def report_lines() -> list[str]:
    return [t.line() for t in _TALLIES.values()]


def export() -> list[dict[str, object]]:
    """Every part's counters as plain data (an xdist worker hands them to the controller)."""
    return [
        {"part": t.part, "order": list(t.order), "counter": dict(t.counter), "totals": dict(t.totals)}
        for t in _TALLIES.values()
    ]


def merge(parts: list[dict[str, object]]) -> None:
    """Add counters exported by another process (an xdist worker) to this one's."""
    for data in parts:
        found = tally(str(data["part"]), *data["order"])  # type: ignore[misc]
        found.counter.update(data["counter"])  # type: ignore[arg-type]
        found.totals.update(data["totals"])  # type: ignore[arg-type]
