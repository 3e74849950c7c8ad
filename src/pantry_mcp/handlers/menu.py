"""Choosing dinners people would keep: what fits their standing preferences, the best
pantry matches first, and among equally good ones a varied menu, not a run of curries or an
alphabetical list.

Pantry ranks candidates by pantry coverage and breaks ties in a pseudo-random order fixed by
a seed; the seed comes from the user and the day, so the same request on the same data
always gives the same menu (a retried plan is the same plan), while another week or another
person gets another one.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date

from pantry_mcp.client import JSON

# The aisles a dish is built on, most telling first: its protein, else its starch.
_MAIN_AISLES: tuple[frozenset[str], ...] = (
    frozenset({"meat", "fish & seafood", "plant proteins"}),
    frozenset({"grains & pasta"}),
)
_COVERAGE_STEPS = 5  # coverage within the same fifth (0-19%, 20-39%, ...) is equally good
_SEED_BITS = 0x7FFFFFFF
QUICK_MINUTES = 60  # on a weeknight, among equally good dishes, those within an hour first


def menu_seed(user: str, day: date) -> int:
    """The tie-break seed for one user and one day (Pantry's ``seed`` parameter)."""
    digest = hashlib.sha256(f"{user}\n{day.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & _SEED_BITS


def is_weeknight(day: date) -> bool:
    """Monday to Friday: the evenings after a working day."""
    return day.weekday() < 5


def time_limit(day: date, weeknight_limit: int | None, asked: int | None = None) -> int | None:
    """The longest a dinner on ``day`` may take: what the person asks for now, else their
    saved weeknight limit on a weeknight, else none."""
    if asked:
        return asked
    return weeknight_limit if weeknight_limit and is_weeknight(day) else None


def suits(hit: JSON, preferences: JSON) -> bool:
    """The recipe meets every standing dietary need and uses nothing the user dislikes."""
    if not set(preferences["dietary"]) <= set(hit["dietary"]):
        return False
    disliked = [name.lower() for name in preferences["disliked"]]
    names = [line["name"].lower() for line in hit["ingredients"]]
    return not any(d in name for d in disliked for name in names)


def main_ingredient(hit: JSON) -> str | None:
    """What the dish is built on: its first protein, else its first starch."""
    for aisles in _MAIN_AISLES:
        for line in hit["ingredients"]:
            if line.get("aisle") in aisles:
                return str(line["ingredient_id"] or line["name"]).lower()
    return None


def distinct(hits: Iterable[JSON]) -> list[JSON]:
    """Each recipe once, in the order given."""
    seen: set[str] = set()
    unique = []
    for hit in hits:
        if hit["id"] not in seen:
            seen.add(hit["id"])
            unique.append(hit)
    return unique


class Menu:
    """Picks recipes one at a time from a ranked pool, keeping the picks varied.

    The rank, most telling first: recently planned recipes last; then pantry coverage in
    fifths, where each earlier pick of the same cuisine counts one fifth less (a third
    Italian dish must cover clearly more to beat a first Greek one); then what uses up more
    of the food about to expire; then, on a weeknight, dishes within an hour; then not
    yesterday's cuisine or main ingredient; then the least used cuisine and main
    ingredient; then Pantry's order.
    """

    def __init__(
        self,
        pool: Sequence[JSON],
        *,
        prefer_pantry: bool = True,
        avoid: Iterable[str] = (),
        use_soon: Iterable[str] = (),
    ) -> None:
        self._pool = list(pool)  # Pantry's order: coverage, then the seeded tie-break
        self._prefer_pantry = prefer_pantry
        self._avoid = set(avoid)  # recently planned: used only when nothing else fits
        self._use_soon = set(use_soon)  # ingredient ids in the pantry about to expire
        self.picks: list[JSON] = []
        self._cuisines: Counter[str | None] = Counter()
        self._mains: Counter[str | None] = Counter()

    def pick(self, max_minutes: int | None = None, *, weeknight: bool = False) -> JSON | None:
        """The best remaining recipe within ``max_minutes``, or None when none is left."""
        chosen = {hit["id"] for hit in self.picks}
        candidates = [
            (index, hit)
            for index, hit in enumerate(self._pool)
            if hit["id"] not in chosen
            and (max_minutes is None or hit["total_minutes"] <= max_minutes)
        ]
        if not candidates:
            return None
        _, best = min(candidates, key=lambda item: self._rank(*item, weeknight=weeknight))
        self.picks.append(best)
        self._cuisines[best.get("cuisine")] += 1
        self._mains[main_ingredient(best)] += 1
        return best

    def uses_soon(self, hit: JSON) -> list[JSON]:
        """The recipe's ingredient lines that the pantry holds, but not for long."""
        return [line for line in hit["ingredients"] if line["ingredient_id"] in self._use_soon]

    def _rank(self, index: int, hit: JSON, *, weeknight: bool) -> tuple[int, ...]:
        previous = self.picks[-1] if self.picks else None
        cuisine, main = hit.get("cuisine"), main_ingredient(hit)
        band = int(hit["pantry_coverage"] * _COVERAGE_STEPS) if self._prefer_pantry else 0
        used = self._cuisines[cuisine] if cuisine else 0
        return (
            hit["id"] in self._avoid,
            used - band,
            -len(self.uses_soon(hit)),
            weeknight and hit["total_minutes"] > QUICK_MINUTES,
            previous is not None and cuisine is not None and cuisine == previous.get("cuisine"),
            previous is not None and main is not None and main == main_ingredient(previous),
            used + (self._mains[main] if main else 0),
            index,
        )
