"""Kitchen units: which ones Pantry accepts, and how quantities in compatible units add up.

Mass and volume convert within their own kind (grams, millilitres); counted units
(piece, clove, can, ...) only add to the same unit. Mass never converts to volume:
without a density that would be a guess.
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
    for amount in amounts:
        kind = kind_of(amount.unit)
        key = amount.unit if kind == "count" else kind
        totals[key] = totals.get(key, 0.0) + to_base(amount.quantity, amount.unit)
    return [_readable(key, total) for key, total in totals.items()]


def subtract(needed: list[Amount], held: list[Amount]) -> list[Amount]:
    """What is left to buy: each needed amount less any held amount of a compatible unit."""
    have: dict[str, float] = {}
    for amount in held:
        kind = kind_of(amount.unit)
        key = amount.unit if kind == "count" else kind
        have[key] = have.get(key, 0.0) + to_base(amount.quantity, amount.unit)
    left: list[Amount] = []
    for amount in needed:
        kind = kind_of(amount.unit)
        key = amount.unit if kind == "count" else kind
        remaining = to_base(amount.quantity, amount.unit) - have.get(key, 0.0)
        if remaining > 1e-9:
            left.append(_readable(key, remaining))
    return left


def _readable(key: str, base_total: float) -> Amount:
    if key == "mass":
        return (
            Amount(_round(base_total / 1000), "kg")
            if base_total >= 1000
            else Amount(_round(base_total), "g")
        )
    if key == "volume":
        return (
            Amount(_round(base_total / 1000), "l")
            if base_total >= 1000
            else Amount(_round(base_total), "ml")
        )
    return Amount(_round(base_total), key)


def _round(value: float) -> float:
    return round(value, 2) if value < 10 else round(value, 1)
