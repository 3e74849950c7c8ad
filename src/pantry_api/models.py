"""Request and response bodies of the Pantry API (pydantic), the source of its OpenAPI schemas.

Request models forbid unknown fields and are parsed strictly, so a typo or a wrong type
is a 422 that names the field instead of being silently ignored or coerced.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from pantry_api.ids import SLUG_PATTERN

DietaryTag = Literal["vegetarian", "vegan", "pescatarian", "gluten-free", "dairy-free", "nut-free"]
DIETARY_TAGS: tuple[str, ...] = DietaryTag.__args__  # type: ignore[attr-defined]
MealSlot = Literal["breakfast", "lunch", "dinner", "snack"]
Course = Literal["main", "breakfast", "side", "soup", "salad", "dessert", "snack"]
Owner = Literal["catalog", "me"]
Unit = Literal[
    "g", "kg", "mg", "oz", "lb", "ml", "l", "tsp", "tbsp", "cup", "fl-oz", "pinch",
    "piece", "clove", "slice", "can", "bunch", "sprig", "stalk", "sheet", "handful",
]  # fmt: skip
UNIT_DESCRIPTION = "Mass and volume units convert among themselves; counted units do not."

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, min_length=1, max_length=80)]
# Text that must say something: at least one character that is not ASCII white space,
# and no NUL
# (spelled out: JSON Schema regexes and Python's disagree on what \s covers).
NOT_BLANK = r"^[^\u0000]*[^\u0000\t\n\v\f\r ][^\u0000]*$"
# No NUL characters anywhere: PostgreSQL text cannot hold them.
NO_NUL = r"^[^\u0000]*$"
ASCII_SPACE = "\t\n\v\f\r "


def _not_past_the_calendar(value: date) -> date:
    if value > date(9999, 12, 31) - timedelta(days=27):
        raise ValueError("must leave room for the plan's last day (at most 9999-12-04)")
    return value


def _iso_date_text(value: object) -> object:
    """Query dates must be written YYYY-MM-DD: lax parsing would also take "0" (a Unix
    time) or a datetime at midnight, which the OpenAPI ``format: date`` does not allow."""
    if isinstance(value, str) and not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


QueryDate = Annotated[date, BeforeValidator(_iso_date_text)]
_WHOLE_NUMBER_TEXT = re.compile(r"0|-?[1-9][0-9]{0,18}")  # 19 digits: past any bound


def _whole_number_text(value: object) -> object:
    """Query integers must be written in plain digits: lax parsing would also take "1.0",
    "+1", "1_000", " 1", "007" and "-0", which the OpenAPI ``type: integer`` does not mean."""
    if isinstance(value, str) and not _WHOLE_NUMBER_TEXT.fullmatch(value):
        raise ValueError("must be a whole number in plain digits (at most 19), e.g. 30")
    return value


# Placed after a Field(...), as WHOLE below, so the bounds still show in the JSON Schema.
DIGITS = BeforeValidator(_whole_number_text)


def trim(text: str) -> str:
    """Trim exactly what NOT_BLANK calls blank, so validated text never trims to nothing."""
    return text.strip(ASCII_SPACE)


ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NOT_BLANK)]
Quantity = Annotated[float, Field(gt=0, le=100_000, allow_inf_nan=False)]


def _whole_float_to_int(value: object) -> object:
    """JSON Schema counts 7.0 as an integer; strict parsing would not, so meet it halfway."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Placed after a Field(...) so the bounds still show in the JSON Schema.
WHOLE = BeforeValidator(_whole_float_to_int)


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    """Query strings arrive as text: query models convert ("30" -> 30) but forbid extras."""

    model_config = ConfigDict(extra="forbid")


class Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- errors ---------------------------------------------------------------------------


class ErrorDetail(Response):
    code: str = Field(description="Stable machine-readable code, e.g. not_found.")
    message: str = Field(description="What went wrong, in English.")
    details: list[dict[str, object]] | dict[str, object] = Field(
        description="For 422: one entry per offending field, each with field and problem."
    )


class ErrorBody(Response):
    error: ErrorDetail


# ---- path parameters ------------------------------------------------------------------


class RecipePath(Query):
    recipe_id: Slug


class IngredientPath(Query):
    ingredient_id: Slug


class PlanPath(Query):
    plan_id: Slug


class EntryPath(Query):
    plan_id: Slug
    entry_id: Slug


class ShoppingItemPath(Query):
    plan_id: Slug
    item_key: Slug


# ---- recipes --------------------------------------------------------------------------


class RecipeSearchQuery(Query):
    q: Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)] | None = Field(
        default=None, description="Free text over title, summary and ingredient names."
    )
    max_minutes: Annotated[int, Field(ge=1, le=1440), DIGITS] | None = None
    dietary: list[DietaryTag] = Field(
        default_factory=list, max_length=6, description="Repeat for several; all must hold."
    )
    cuisine: Slug | None = None
    course: Course | None = Field(default=None, description="main for lunch or dinner dishes.")
    sort: Literal["relevance", "title", "pantry"] = Field(
        default="relevance",
        description="relevance: best match first (title order without q); "
        "pantry: recipes your pantry covers most first.",
    )
    page: Annotated[int, Field(ge=1, le=1000), DIGITS] = 1
    page_size: Annotated[int, Field(ge=1, le=50), DIGITS] = 10
    seed: Annotated[int, Field(ge=0, le=2_147_483_647), DIGITS] | None = Field(
        default=None,
        description="Breaks ties in a stable pseudo-random order for this seed instead of "
        "by title: the same seed gives the same order.",
    )


class HitIngredient(Response):
    ingredient_id: str | None
    name: str
    in_pantry: bool
    aisle: str | None = Field(
        description="The catalog ingredient's aisle; null for a name not matched to the catalog."
    )


class RecipeHit(Response):
    id: str
    title: str
    summary: str
    cuisine: str | None
    course: Course | None
    total_minutes: int
    dietary: list[DietaryTag]
    ingredients: list[HitIngredient] = Field(description="In recipe order.")
    pantry_coverage: float = Field(
        description="Share (0 to 1) of the measured ingredients already in your pantry."
    )
    owner: Owner


class RecipePage(Response):
    items: list[RecipeHit]
    page: int
    page_size: int
    total: int = Field(
        description="How many recipes match, counted up to 1,000 (then total_exact is "
        "false and this is a lower bound). Free text ranks all your own matching recipes "
        "and the first 1,000 matching catalog recipes found (about the oldest): its pages "
        "end there."
    )
    total_exact: bool = Field(
        description="false when more recipes match than were counted or ranked: "
        "narrow the words or add filters to reach the others."
    )
    has_more: bool = Field(description="Whether the next page has items.")
    match: Literal["all", "any"] | None = Field(
        description="all: every word matched; any: no recipe had all words, so these match some."
    )


class IngredientLineIn(Request):
    name: ShortText
    quantity: Quantity | None = Field(default=None, description="null means 'to taste'.")
    unit: Unit | None = Field(default=None, description=UNIT_DESCRIPTION)
    note: Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)] | None = None


class RecipeIn(Request):
    title: ShortText
    summary: Annotated[str, StringConstraints(max_length=500, pattern=NO_NUL)] = ""
    cuisine: Slug | None = None
    course: Course | None = None
    servings: Annotated[int, Field(ge=1, le=100), WHOLE] = 4
    total_minutes: Annotated[int, Field(ge=1, le=1440), WHOLE]
    dietary: Annotated[list[DietaryTag], Field(max_length=6)] = Field(default_factory=list)
    ingredients: Annotated[list[IngredientLineIn], Field(min_length=1, max_length=100)]
    steps: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=NOT_BLANK)]],
        Field(min_length=1, max_length=100),
    ]


class IngredientLine(Response):
    ingredient_id: str | None = Field(description="Catalog ingredient, when the name matched one.")
    name: str
    quantity: float | None
    unit: str | None
    note: str | None
    aisle: str | None


class RatingSummary(Response):
    average: float | None
    count: int
    mine: int | None


class Recipe(Response):
    id: str
    title: str
    summary: str
    cuisine: str | None
    course: Course | None
    servings: int
    total_minutes: int
    dietary: list[DietaryTag]
    ingredients: list[IngredientLine]
    steps: list[str]
    owner: Owner
    rating: RatingSummary
    created_at: datetime
    updated_at: datetime


class RatingIn(Request):
    stars: Annotated[int, Field(ge=1, le=5), WHOLE]


# ---- ingredients ----------------------------------------------------------------------


class IngredientSearchQuery(Query):
    q: Annotated[str, StringConstraints(max_length=100, pattern=NO_NUL)] | None = None
    aisle: Annotated[str, StringConstraints(max_length=40, pattern=NO_NUL)] | None = None
    page: Annotated[int, Field(ge=1, le=1000), DIGITS] = 1
    page_size: Annotated[int, Field(ge=1, le=100), DIGITS] = 20


class IngredientHit(Response):
    id: str
    name: str
    aisle: str
    dietary: list[DietaryTag]
    matched: str | None = Field(description="The name or alias that matched the query, if any.")
    exact: bool = Field(description="The query named this ingredient exactly (or its plural).")


class IngredientPage(Response):
    items: list[IngredientHit]
    page: int
    page_size: int
    total: int
    has_more: bool


class Substitute(Response):
    ingredient_id: str
    name: str
    ratio: float = Field(description="Quantity of the substitute per one unit of the original.")
    note: str
    dietary: list[DietaryTag]


class Ingredient(Response):
    id: str
    name: str
    aisle: str
    dietary: list[DietaryTag]
    aliases: list[str]
    substitutes: list[Substitute]


# ---- pantry ---------------------------------------------------------------------------


class PantryQuery(Query):
    q: Annotated[str, StringConstraints(max_length=100, pattern=NO_NUL)] | None = Field(
        default=None, description="Keep items whose ingredient name contains this text."
    )


class PantryItemIn(Request):
    ingredient_id: Slug
    quantity: Quantity | None = None
    unit: Unit | None = Field(default=None, description=UNIT_DESCRIPTION)
    expires_on: date | None = None


class PantryItemPatch(Request):
    quantity: Quantity | None = None
    unit: Unit | None = Field(default=None, description=UNIT_DESCRIPTION)
    expires_on: date | None = None


class PantryItem(Response):
    ingredient_id: str
    name: str
    aisle: str
    quantity: float | None
    unit: str | None
    expires_on: date | None
    updated_at: datetime


class PantryList(Response):
    items: list[PantryItem]
    total: int


# ---- users ----------------------------------------------------------------------------


WEEKNIGHT_MINUTES_DESCRIPTION = "Longest total time for a dinner Monday to Friday; null: no limit."
SERVINGS_DESCRIPTION = (
    "How many people to cook for; plan entries without their own servings use it."
)


class Preferences(Response):
    dietary: list[DietaryTag]
    disliked: list[str] = Field(description="Ingredient names the user does not want.")
    max_weeknight_minutes: int | None = Field(description=WEEKNIGHT_MINUTES_DESCRIPTION)
    servings: int | None = Field(description=SERVINGS_DESCRIPTION)
    set_at: datetime | None = Field(
        description="When the person last saved their preferences (PUT); null: never."
    )
    declined_at: datetime | None = Field(
        description="When the person last declined to be asked for their preferences; null: never."
    )


class PreferencesIn(Request):
    dietary: Annotated[list[DietaryTag], Field(max_length=6)] = Field(default_factory=list)
    disliked: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NOT_BLANK)]],
        Field(max_length=100),
    ] = Field(default_factory=list)
    max_weeknight_minutes: Annotated[int, Field(ge=1, le=1440), WHOLE] | None = Field(
        default=None, description=WEEKNIGHT_MINUTES_DESCRIPTION
    )
    servings: Annotated[int, Field(ge=1, le=20), WHOLE] | None = Field(
        default=None, description=SERVINGS_DESCRIPTION
    )


class User(Response):
    id: str
    preferences: Preferences
    pantry_items: int
    meal_plans: int
    saved_recipes: int
    created_at: datetime


# ---- meal plans -----------------------------------------------------------------------


class PlanListQuery(Query):
    ends_on_or_after: QueryDate | None = Field(
        default=None, description="Keep plans whose last day is on or after this date."
    )
    starts_on_or_before: QueryDate | None = Field(
        default=None, description="Keep plans whose first day is on or before this date."
    )
    order: Literal["latest", "earliest"] = Field(
        default="latest",
        description="latest: latest start date first; earliest: earliest start date first.",
    )
    page: Annotated[int, Field(ge=1, le=1000), DIGITS] = 1
    page_size: Annotated[int, Field(ge=1, le=100), DIGITS] = 20


class PlanIn(Request):
    start_date: Annotated[date, AfterValidator(_not_past_the_calendar)]
    days: Annotated[int, Field(ge=1, le=28), WHOLE] = 7
    name: Annotated[str, StringConstraints(max_length=100, pattern=NO_NUL)] | None = None
    entries: Annotated[list[EntryIn], Field(max_length=112)] = Field(
        default_factory=list,
        description="Recipes to put on the plan at once: the plan is created with all of "
        "them or not at all.",
    )


class PlanSummary(Response):
    id: str
    name: str
    start_date: date
    end_date: date
    days: int
    entry_count: int
    recipe_ids: list[str] = Field(
        description="The distinct recipes on the plan, in day and meal-slot order."
    )
    created_at: datetime


class PlanPage(Response):
    items: list[PlanSummary]
    page: int
    page_size: int
    total: int
    has_more: bool


class EntryIn(Request):
    recipe_id: Slug
    day: Annotated[int, Field(ge=1, le=28, description="1 is the plan's start_date."), WHOLE]
    slot: MealSlot = "dinner"
    servings: Annotated[int, Field(ge=1, le=100), WHOLE] | None = Field(
        default=None,
        description="null: your saved servings preference if set, else the recipe's servings.",
    )


class Entry(Response):
    id: str
    day: int
    date: date
    slot: MealSlot
    recipe_id: str
    recipe_title: str
    total_minutes: int
    servings: int = Field(
        description="How many people the entry is made for; its shopping list scales to it."
    )
    pantry_coverage: float = Field(
        description="Share (0 to 1) of the recipe's measured ingredients already in your "
        "pantry, as of this read (as in recipe search hits)."
    )


class PlanDay(Response):
    day: int
    date: date
    entries: list[Entry]


class Plan(Response):
    id: str
    name: str
    start_date: date
    end_date: date
    days: list[PlanDay]
    created_at: datetime


# ---- shopping lists -------------------------------------------------------------------


class Amount(Response):
    quantity: float
    unit: str


class ShoppingItem(Response):
    key: str = Field(description="Use in the check-off path.")
    ingredient_id: str | None
    name: str
    amounts: list[Amount] = Field(description="Needed, summed across the plan, one per unit kind.")
    to_buy: list[Amount] = Field(
        description="Needed less what the pantry holds, where the units convert."
    )
    to_taste: bool = Field(description="Some recipe uses it without a quantity.")
    in_pantry: bool = Field(description="The pantry holds some of it already.")
    pantry_amounts: list[Amount] = Field(description="How much the pantry holds, when known.")
    recipes: list[str]
    checked: bool


class ShoppingAisle(Response):
    aisle: str
    items: list[ShoppingItem]


class ShoppingList(Response):
    plan_id: str
    start_date: date = Field(description="The plan's first day.")
    end_date: date = Field(description="The plan's last day.")
    aisles: list[ShoppingAisle]
    item_count: int
    checked_count: int


class CheckIn(Request):
    checked: bool


PlanIn.model_rebuild()  # its entries refer to EntryIn, defined further down
