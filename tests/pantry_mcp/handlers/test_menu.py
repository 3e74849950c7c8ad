"""The menu rules on their own: no server, just ranked candidates in and picks out."""

from __future__ import annotations

from datetime import date
from typing import Any

from pantry_mcp.handlers.menu import (
    Menu,
    is_weeknight,
    main_ingredient,
    menu_seed,
    suits,
    time_limit,
)


def hit(
    recipe_id: str,
    *,
    cuisine: str = "italian",
    main: str | None = None,
    coverage: float = 0.0,
    minutes: int = 30,
    dietary: tuple[str, ...] = (),
    names: tuple[str, ...] = (),
) -> dict[str, Any]:
    lines = [{"ingredient_id": main, "name": main, "aisle": "meat"}] if main else []
    lines += [{"ingredient_id": n, "name": n, "aisle": "produce"} for n in names]
    return {
        "id": recipe_id,
        "title": recipe_id,
        "cuisine": cuisine,
        "total_minutes": minutes,
        "pantry_coverage": coverage,
        "dietary": list(dietary),
        "ingredients": lines,
    }


def test_clearly_better_coverage_wins_over_variety() -> None:
    """Two fifths more of the pantry beat a new cuisine; one fifth does not."""
    menu = Menu([hit("a", coverage=0.5), hit("b", coverage=0.8), hit("c", cuisine="thai")])
    assert [p["id"] for p in (menu.pick(), menu.pick()) if p] == ["b", "a"]
    menu = Menu([hit("a", coverage=0.3), hit("b", coverage=0.8), hit("c", cuisine="thai")])
    assert [p["id"] for p in (menu.pick(), menu.pick()) if p] == ["b", "c"]


def test_a_repeated_cuisine_counts_one_fifth_less_each_time() -> None:
    pool = [hit(f"it-{n}", coverage=0.9 - n / 100) for n in range(3)]
    pool += [hit("gr", cuisine="greek", coverage=0.65), hit("es", cuisine="spanish", coverage=0.5)]
    menu = Menu(pool)
    picks = [menu.pick() for _ in range(5)]
    assert [p["id"] for p in picks if p] == ["it-0", "gr", "it-1", "es", "it-2"]


def test_weeknights_prefer_dishes_within_an_hour_among_equals() -> None:
    pool = [hit("stew", minutes=600, coverage=0.6), hit("pasta", minutes=25, coverage=0.7)]
    assert Menu(pool).pick(weeknight=True) == pool[1]
    assert Menu(pool).pick() == pool[0]  # a weekend: Pantry's order stands


def test_equally_good_candidates_alternate_cuisine_and_main_ingredient() -> None:
    pool = [
        hit("it-chicken-1", main="chicken"),
        hit("it-chicken-2", main="chicken"),
        hit("it-beef", main="beef"),
        hit("th-chicken", cuisine="thai", main="chicken"),
        hit("in-lentil", cuisine="indian", main="lentil"),
    ]
    menu = Menu(pool)
    picks = [menu.pick() for _ in range(4)]
    assert [p["id"] for p in picks if p] == ["it-chicken-1", "in-lentil", "th-chicken", "it-beef"]


def test_same_band_counts_as_equally_good() -> None:
    """0.52 and 0.48 are both about half: the cuisine not seen yet goes second."""
    menu = Menu(
        [hit("a", coverage=0.52), hit("b", coverage=0.51), hit("c", cuisine="thai", coverage=0.48)]
    )
    assert [p["id"] for p in (menu.pick(), menu.pick()) if p] == ["a", "c"]


def test_without_pantry_preference_coverage_does_not_rank() -> None:
    menu = Menu([hit("a"), hit("b", coverage=1.0, cuisine="thai")], prefer_pantry=False)
    assert [p["id"] for p in (menu.pick(), menu.pick()) if p] == ["a", "b"]


def test_recent_recipes_only_when_nothing_else_is_left() -> None:
    menu = Menu([hit("old", coverage=1.0), hit("new")], avoid={"old"})
    assert [p["id"] for p in (menu.pick(), menu.pick()) if p] == ["new", "old"]
    assert menu.pick() is None


def test_time_limit_per_pick() -> None:
    menu = Menu([hit("slow", minutes=90, coverage=1.0), hit("quick", minutes=25)])
    assert menu.pick(30) == hit("quick", minutes=25)
    assert menu.pick(30) is None
    assert menu.pick() == hit("slow", minutes=90, coverage=1.0)


def test_preferences_filter_diets_and_dislikes() -> None:
    preferences = {"dietary": ["vegetarian"], "disliked": ["Mushroom"]}
    assert suits(hit("a", dietary=("vegetarian", "vegan")), preferences)
    assert not suits(hit("b"), preferences)
    assert not suits(hit("c", dietary=("vegetarian",), names=("button mushroom",)), preferences)


def test_main_ingredient_is_the_protein_else_the_starch() -> None:
    pasta = {
        "ingredients": [
            {"ingredient_id": "garlic", "name": "garlic", "aisle": "produce"},
            {"ingredient_id": "spaghetti", "name": "spaghetti", "aisle": "grains & pasta"},
            {"ingredient_id": "guanciale", "name": "guanciale", "aisle": "meat"},
        ]
    }
    assert main_ingredient(pasta) == "guanciale"
    assert main_ingredient({"ingredients": pasta["ingredients"][:2]}) == "spaghetti"
    assert main_ingredient({"ingredients": pasta["ingredients"][:1]}) is None


def test_seed_is_stable_per_user_and_day() -> None:
    day = date(2026, 12, 7)
    assert menu_seed("ann", day) == menu_seed("ann", day)
    assert menu_seed("ann", day) != menu_seed("bob", day)
    assert menu_seed("ann", day) != menu_seed("ann", date(2026, 12, 14))
    assert 0 <= menu_seed("ann", day) < 2**31


def test_weeknights_are_monday_to_friday() -> None:
    week = [date(2026, 12, 7 + offset) for offset in range(7)]  # Monday 7 December
    assert [is_weeknight(day) for day in week] == [True] * 5 + [False] * 2


def test_time_limit_asked_now_else_saved_on_weeknights() -> None:
    friday, saturday = date(2026, 12, 11), date(2026, 12, 12)
    assert time_limit(friday, 30) == 30
    assert time_limit(saturday, 30) is None
    assert time_limit(friday, None) is None
    assert time_limit(saturday, 30, asked=20) == 20
    assert time_limit(friday, 30, asked=60) == 60  # the person asked for more tonight


def test_among_equals_what_uses_up_expiring_food_goes_first() -> None:
    pool = [hit("pasta", coverage=0.5), hit("soup", coverage=0.45, names=("spinach",))]
    menu = Menu(pool, use_soon={"spinach"})
    best = menu.pick()
    assert best == pool[1]
    assert [line["name"] for line in menu.uses_soon(best)] == ["spinach"]
    assert Menu(pool).pick() == pool[0]  # nothing expiring: Pantry's order stands
