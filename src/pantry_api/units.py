"""Kitchen units: which ones Pantry accepts, and how quantities in compatible units add up.

Mass and volume convert within their own kind (grams, millilitres); counted units
(piece, clove, can, ...) only add to the same unit. Mass never converts to volume:
without a density that would be a guess.

The sums are done in the kind's base unit; only the unit a total is shown in is chosen
for a person to read:

- amounts of one kind all in the same unit keep that unit (1 tsp + ½ tsp is 1.5 tsp,
  8 oz + 8 oz is 16 oz, 1 pinch stays 1 pinch); metric units still scale for reading
  (600 g + 600 g is 1.2 kg, 1500 mg is 1.5 g, ml and l likewise);
- mixed units of a kind read as metric (g or kg, ml or l), except that small volumes read
  as kitchen spoons: under 15 ml in tsp, under 60 ml in tbsp (1 tsp + 1 tbsp is 1.33 tbsp);
- what is left to buy is shown in the unit the needed amount was shown in (3 tsp needed,
  1 tsp held: 2 tsp), metric again scaling for reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["mass", "volume", "count"]

# unit -> (kind, factor to the kind's base unit: g for mass, ml for volume, 1 for counts)
UNITS: dict[str, tuple[Kind, float]] = {
    "g": ("mass", 1.0),
    "kg": ("mass", 1000.0),
    "mg": ("mass", 0.001),
    "oz": ("mass", 28.349523125),
    "lb": ("mass", 453.59237),
    "ml": ("volume", 1.0),
    "l": ("volume", 1000.0),
    "tsp": ("volume", 4.92892159375),
    "tbsp": ("volume", 14.78676478125),
    "cup": ("volume", 236.5882365),
    "fl-oz": ("volume", 29.5735295625),
    "pinch": ("volume", 0.31),
    "piece": ("count", 1.0),
    "clove": ("count", 1.0),
    "slice": ("count", 1.0),
    "can": ("count", 1.0),
    "bunch": ("count", 1.0),
    "sprig": ("count", 1.0),
    "stalk": ("count", 1.0),
    "sheet": ("count", 1.0),
    "handful": ("count", 1.0),
}

# Metric units scale for reading: the largest step of the ladder the total reaches.
# A ladder starts at the unit the amounts were written in (or its kind's base unit).
_METRIC_LADDERS: dict[str, tuple[str, ...]] = {
    "mg": ("mg", "g", "kg"),
    "g": ("g", "kg"),
    "kg": ("g", "kg"),
    "ml": ("ml", "l"),
    "l": ("ml", "l"),
}
# Mixed volumes below these many ml read as spoons, smallest first.
_SPOONS: tuple[tuple[float, str], ...] = ((15.0, "tsp"), (60.0, "tbsp"))


@dataclass(frozen=True)
class Amount:
    quantity: float
    unit: str


def kind_of(unit: str) -> Kind:
    return UNITS[unit][0]


def to_base(quantity: float, unit: str) -> float:
    return quantity * UNITS[unit][1]


def combine(amounts: list[Amount]) -> list[Amount]:
    """Sum amounts, merging every group of compatible units into one readable amount.

    Returns one amount per kind (mass, volume) plus one per distinct counted unit, in the
    order each first appears.
    """
    totals: dict[str, float] = {}
    units: dict[str, set[str]] = {}
    for amount in amounts:
        key = _key(amount.unit)
        totals[key] = totals.get(key, 0.0) + to_base(amount.quantity, amount.unit)
        units.setdefault(key, set()).add(amount.unit)
    return [_shown(key, total, units[key]) for key, total in totals.items()]


def subtract(needed: list[Amount], held: list[Amount]) -> list[Amount]:
    """What is left to buy: each needed amount less any held amount of a compatible unit,
    shown in the unit the needed amount is in (metric scaling for reading)."""
    have: dict[str, float] = {}
    for amount in held:
        key = _key(amount.unit)
        have[key] = have.get(key, 0.0) + to_base(amount.quantity, amount.unit)
    left: list[Amount] = []
    for amount in needed:
        remaining = to_base(amount.quantity, amount.unit) - have.get(_key(amount.unit), 0.0)
        shown = _in_unit(amount.unit, remaining) if remaining > 1e-9 else None
        if shown is not None and shown.quantity > 0:  # "0.0 lb" to buy is nothing to buy
            left.append(shown)
    return left


def _key(unit: str) -> str:
    kind = kind_of(unit)
    return unit if kind == "count" else kind


def _shown(key: str, base_total: float, units: set[str]) -> Amount:
    if len(units) == 1:
        return _in_unit(next(iter(units)), base_total)
    if key == "volume":
        for below, spoon in _SPOONS:
            if base_total < below:
                return _in_unit(spoon, base_total)
        return _in_unit("ml", base_total)
    return _in_unit("g", base_total)  # mixed mass


def _in_unit(unit: str, base_total: float) -> Amount:
    ladder = _METRIC_LADDERS.get(unit)
    if ladder is not None:
        unit = ladder[0]
        for step in ladder[1:]:
            if base_total >= UNITS[step][1]:
                unit = step
    return Amount(_round(base_total / UNITS[unit][1]), unit)


def _round(value: float) -> float:
    return round(value, 2) if value < 10 else round(value, 1)
