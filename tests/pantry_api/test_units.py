from __future__ import annotations

from typing import get_args

from pantry_api.models import Unit
from pantry_api.units import UNITS, Amount, combine


def test_the_api_accepts_exactly_the_units_that_convert() -> None:
    assert set(get_args(Unit)) == set(UNITS)


def test_mass_adds_up_across_units_and_reads_well() -> None:
    assert combine([Amount(500, "g"), Amount(1, "kg")]) == [Amount(1.5, "kg")]
    assert combine([Amount(1, "lb"), Amount(8, "oz")]) == [Amount(680.4, "g")]


def test_volume_adds_up_across_units() -> None:
    assert combine([Amount(1, "tbsp"), Amount(3, "tsp")]) == [Amount(29.6, "ml")]
    assert combine([Amount(2, "cup"), Amount(600, "ml")]) == [Amount(1.07, "l")]


def test_mass_and_volume_and_counts_stay_apart() -> None:
    combined = combine(
        [
            Amount(2, "piece"),
            Amount(100, "g"),
            Amount(1, "cup"),
            Amount(1, "piece"),
            Amount(2, "clove"),
        ]
    )
    assert combined == [
        Amount(3, "piece"),
        Amount(100, "g"),
        Amount(236.6, "ml"),
        Amount(2, "clove"),
    ]
