"""The preferences form: when to ask, and how an answer becomes Pantry's preferences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pantry_mcp.preferences_form import (
    FORM,
    InvalidAnswer,
    answered_since,
    needs_asking,
    prefilled,
    read_answer,
)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
NEVER: dict[str, Any] = {"set_at": None, "declined_at": None}


def test_asked_until_set_and_again_thirty_days_after_a_refusal() -> None:
    assert needs_asking(NEVER, NOW)
    assert not needs_asking({**NEVER, "set_at": "2026-01-01T00:00:00Z"}, NOW)
    declined = (NOW - timedelta(days=29, hours=23)).isoformat()
    assert not needs_asking({**NEVER, "declined_at": declined}, NOW)
    assert needs_asking({**NEVER, "declined_at": (NOW - timedelta(days=30)).isoformat()}, NOW)


def test_an_answer_becomes_preferences() -> None:
    body = read_answer(
        {"dietary": ["vegan", "gluten-free", "vegan"], "avoid": " Tofu,, coriander ,tofu"}
    ).body
    assert body == {
        "dietary": ["vegan", "gluten-free"],
        "disliked": ["tofu", "coriander"],
        "max_weeknight_minutes": None,
        "servings": None,
    }
    assert read_answer(None).body["dietary"] == []  # everything is optional
    assert read_answer({"servings": 3.0, "max_weeknight_minutes": 45}).body["servings"] == 3


@pytest.mark.parametrize(
    ("content", "field", "problem"),
    [
        ({"servings": 0}, "servings", "must be from 1 to 20 (got 0)"),
        ({"servings": 2.5}, "servings", "must be a whole number"),
        ({"servings": True}, "servings", "must be a whole number"),
        ({"servings": "4"}, "servings", "must be a whole number"),
        ({"max_weeknight_minutes": 241}, "max_weeknight_minutes", "must be from 10 to 240"),
        ({"dietary": ["keto"]}, "dietary", "must be among"),
        ({"dietary": "vegan"}, "dietary", "must be a list"),
        ({"avoid": 3}, "avoid", "must be text"),
        ({"avoid": "x" * 501}, "avoid", "at most 500 characters"),
        ({"avoid": ",".join(["a"] * 1) + ",b" * 40}, "avoid", None),
        ({"budget": 10}, "(answer)", "has fields the form does not ask: budget"),
        (["vegan"], "(answer)", "must be an object"),
    ],
)
def test_an_answer_outside_the_form_is_refused_by_field(
    content: Any, field: str, problem: str | None
) -> None:
    if problem is None:  # 41 names of one letter, deduplicated to 2: allowed
        assert read_answer(content).body["disliked"] == ["a", "b"]
        return
    with pytest.raises(InvalidAnswer) as refused:
        read_answer(content)
    assert refused.value.field == field
    assert problem in refused.value.problem


def test_too_many_foods_are_refused() -> None:
    names = ", ".join(f"food{n}" for n in range(31))
    with pytest.raises(InvalidAnswer, match="at most 30 foods"):
        read_answer({"avoid": names})


def test_the_change_form_is_prefilled_and_the_first_form_is_not() -> None:
    saved = {"dietary": ["vegan"], "disliked": ["tofu"], "max_weeknight_minutes": 20, "servings": 1}
    form = prefilled(saved)
    assert {k: v.get("default") for k, v in form["properties"].items()} == {
        "dietary": ["vegan"],
        "avoid": "tofu",
        "max_weeknight_minutes": 20,
        "servings": 1,
    }
    assert all("default" not in v for v in FORM["properties"].values())


def test_a_question_is_answered_once_it_is_saved_or_declined_after_it_was_asked() -> None:
    asked = NOW - timedelta(minutes=1)
    assert not answered_since(NEVER, asked)
    assert not answered_since({**NEVER, "declined_at": "2026-12-04T11:00:00Z"}, asked)
    assert answered_since({**NEVER, "set_at": "2026-12-04T11:59:30Z"}, asked)
    assert answered_since({**NEVER, "declined_at": NOW.isoformat()}, asked)
