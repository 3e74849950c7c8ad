from __future__ import annotations

from typing import get_args

from pantry_api.models import Unit
from pantry_api.units import UNITS, Amount, combine, subtract


def test_the_api_accepts_exactly_the_units_that_convert() -> None:
    assert set(get_args(Unit)) == set(UNITS)


def test_mass_adds_up_across_units_and_reads_well() -> None:
    assert combine([Amount(500, "g"), Amount(1, "kg")]) == [Amount(1.5, "kg")]
    assert combine([Amount(1, "lb"), Amount(8, "oz")]) == [Amount(680.4, "g")]


def test_volume_adds_up_across_units() -> None:
    assert combine([Amount(1, "tbsp"), Amount(3, "tsp")]) == [Amount(2, "tbsp")]  # 29.6 ml
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
        Amount(1, "cup"),
        Amount(2, "clove"),
    ]


def test_one_unit_throughout_is_shown_in_that_unit() -> None:
    assert combine([Amount(1, "tsp")]) == [Amount(1, "tsp")]
    assert combine([Amount(1, "tsp"), Amount(0.5, "tsp")]) == [Amount(1.5, "tsp")]
    assert combine([Amount(1, "pinch")]) == [Amount(1, "pinch")]
    assert combine([Amount(2, "cup")]) == [Amount(2, "cup")]
    assert combine([Amount(1, "fl-oz"), Amount(1, "fl-oz")]) == [Amount(2, "fl-oz")]
    assert combine([Amount(8, "oz"), Amount(8, "oz")]) == [Amount(16, "oz")]
    assert combine([Amount(1, "lb")]) == [Amount(1, "lb")]
    assert combine([Amount(3, "tbsp"), Amount(1, "tbsp")]) == [Amount(4, "tbsp")]
    assert combine([Amount(1 / 3, "cup")]) == [Amount(0.33, "cup")]  # rounded as ever


def test_metric_in_one_unit_still_scales_for_reading() -> None:
    assert combine([Amount(600, "g"), Amount(600, "g")]) == [Amount(1.2, "kg")]
    assert combine([Amount(200, "g")]) == [Amount(200, "g")]
    assert combine([Amount(0.25, "kg")]) == [Amount(250, "g")]
    assert combine([Amount(600, "ml"), Amount(600, "ml")]) == [Amount(1.2, "l")]
    assert combine([Amount(5, "ml")]) == [Amount(5, "ml")]  # written in ml: no spoons
    assert combine([Amount(0.5, "l")]) == [Amount(500, "ml")]
    assert combine([Amount(250, "mg")]) == [Amount(250, "mg")]
    assert combine([Amount(750, "mg"), Amount(750, "mg")]) == [Amount(1.5, "g")]


def test_mixed_small_volumes_read_as_spoons() -> None:
    # 4.93 ml + 14.79 ml = 19.7 ml
    assert combine([Amount(1, "tsp"), Amount(1, "tbsp")]) == [Amount(1.33, "tbsp")]
    # 4.93 ml + 0.31 ml = 5.24 ml
    assert combine([Amount(1, "tsp"), Amount(1, "pinch")]) == [Amount(1.06, "tsp")]
    assert combine([Amount(2, "ml"), Amount(1, "pinch")]) == [Amount(0.47, "tsp")]
    # 14.79 ml + 0.5 ml: 15 ml and over is tbsp
    assert combine([Amount(1, "tbsp"), Amount(0.5, "ml")]) == [Amount(1.03, "tbsp")]
    # 59.15 ml + 0.31 ml: still under 60 ml
    assert combine([Amount(0.25, "cup"), Amount(1, "pinch")]) == [Amount(4.02, "tbsp")]
    # 3 tbsp + 1 fl-oz = 73.9 ml: 60 ml and over reads as ml
    assert combine([Amount(3, "tbsp"), Amount(1, "fl-oz")]) == [Amount(73.9, "ml")]
    assert combine([Amount(4, "tbsp"), Amount(1, "tsp")]) == [Amount(64.1, "ml")]


def test_mixed_mass_reads_as_metric() -> None:
    assert combine([Amount(8, "oz"), Amount(100, "g")]) == [Amount(326.8, "g")]
    assert combine([Amount(2, "lb"), Amount(4, "oz")]) == [Amount(1.02, "kg")]


def test_what_is_left_to_buy_keeps_the_needed_unit() -> None:
    assert subtract([Amount(3, "tsp")], [Amount(1, "tsp")]) == [Amount(2, "tsp")]
    assert subtract([Amount(3, "tsp")], [Amount(1, "tbsp")]) == []
    assert subtract([Amount(2, "tbsp")], [Amount(1, "tsp")]) == [Amount(1.67, "tbsp")]
    assert subtract([Amount(2, "cup")], [Amount(250, "ml")]) == [Amount(0.94, "cup")]
    assert subtract([Amount(16, "oz")], [Amount(100, "g")]) == [Amount(12.5, "oz")]
    assert subtract([Amount(1, "pinch")], [Amount(1, "kg")]) == [Amount(1, "pinch")]


def test_what_is_left_to_buy_in_metric_scales_for_reading() -> None:
    assert subtract([Amount(1.2, "kg")], [Amount(1.1, "kg")]) == [Amount(100, "g")]
    assert subtract([Amount(1500, "g")], [Amount(200, "g")]) == [Amount(1.3, "kg")]
    assert subtract([Amount(386.6, "ml")], [Amount(0.1, "l")]) == [Amount(286.6, "ml")]
    assert subtract([Amount(3, "piece")], [Amount(1, "piece")]) == [Amount(2, "piece")]


def test_a_remainder_too_small_to_show_is_nothing_to_buy() -> None:
    # 2 lb is 907.18 g: 907 g held leaves 0.18 g, which reads as 0.0 lb.
    assert subtract([Amount(2, "lb")], [Amount(907, "g")]) == []
    assert subtract([Amount(2, "lb")], [Amount(900, "g")]) == [Amount(0.02, "lb")]
