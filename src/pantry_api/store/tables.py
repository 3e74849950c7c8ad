"""The tables as queries see them (SQLAlchemy Core). Migrations own the DDL.

``tests/pantry_api/test_migrations.py`` checks that a migrated database has exactly these
columns, so this file and ``migrations.py`` cannot drift apart unnoticed.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    Table,
    Text,
)

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", Text, primary_key=True),
    Column("dietary", JSON, nullable=False),
    Column("disliked", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("max_weeknight_minutes", Integer, nullable=True),
    Column("servings", Integer, nullable=True),
    Column("preferences_set_at", DateTime(timezone=True), nullable=True),
    Column("preferences_declined_at", DateTime(timezone=True), nullable=True),
)

ingredients = Table(
    "ingredients",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("aisle", Text, nullable=False),
    Column("dietary", JSON, nullable=False),
)

ingredient_names = Table(
    "ingredient_names",
    metadata,
    Column("name", Text, primary_key=True),
    Column("ingredient_id", Text, ForeignKey("ingredients.id"), nullable=False),
)

ingredient_substitutes = Table(
    "ingredient_substitutes",
    metadata,
    Column("ingredient_id", Text, ForeignKey("ingredients.id"), primary_key=True),
    Column("substitute_id", Text, ForeignKey("ingredients.id"), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("ratio", Float, nullable=False),
    Column("note", Text, nullable=False),
)

recipes = Table(
    "recipes",
    metadata,
    Column("id", Text, primary_key=True),
    Column("owner_id", Text, ForeignKey("users.id"), nullable=True),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("cuisine", Text, nullable=True),
    Column("servings", Integer, nullable=False),
    Column("total_minutes", Integer, nullable=False),
    Column("steps", JSON, nullable=False),
    Column("ingredient_names", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("diet_mask", Integer, nullable=False),  # see pantry_api.diet
    Column("measured", Integer, nullable=False),  # ingredient lines with a quantity
    Column("course", Text, nullable=True),
    Column("shuffle_key", Integer, nullable=False),  # pantry_api.ids.shuffle_key(id)
)

recipe_ingredients = Table(
    "recipe_ingredients",
    metadata,
    Column("recipe_id", Text, ForeignKey("recipes.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("ingredient_id", Text, ForeignKey("ingredients.id"), nullable=True),
    Column("name", Text, nullable=False),
    Column("quantity", Float, nullable=True),
    Column("unit", Text, nullable=True),
    Column("note", Text, nullable=True),
)

recipe_ratings = Table(
    "recipe_ratings",
    metadata,
    Column("recipe_id", Text, ForeignKey("recipes.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Text, ForeignKey("users.id"), primary_key=True),
    Column("stars", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

pantry_items = Table(
    "pantry_items",
    metadata,
    Column("user_id", Text, ForeignKey("users.id"), primary_key=True),
    Column("ingredient_id", Text, ForeignKey("ingredients.id"), primary_key=True),
    Column("quantity", Float, nullable=True),
    Column("unit", Text, nullable=True),
    Column("expires_on", Date, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

meal_plans = Table(
    "meal_plans",
    metadata,
    Column("id", Text, primary_key=True),
    Column("user_id", Text, ForeignKey("users.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("days", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("end_date", Date, nullable=False),  # start_date + days - 1
)

meal_plan_entries = Table(
    "meal_plan_entries",
    metadata,
    Column("id", Text, primary_key=True),
    Column("plan_id", Text, ForeignKey("meal_plans.id", ondelete="CASCADE"), nullable=False),
    Column("day", Integer, nullable=False),
    Column("slot", Text, nullable=False),
    Column("recipe_id", Text, ForeignKey("recipes.id", ondelete="CASCADE"), nullable=False),
    Column("servings", Integer, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

shopping_checks = Table(
    "shopping_checks",
    metadata,
    Column("plan_id", Text, ForeignKey("meal_plans.id", ondelete="CASCADE"), primary_key=True),
    Column("item_key", Text, primary_key=True),
    Column("checked_at", DateTime(timezone=True), nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("fingerprint", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("user_id", Text, ForeignKey("users.id"), primary_key=True),
    Column("email", Text, nullable=False),  # as the operator typed it
    Column("email_key", Text, nullable=False, unique=True),  # lower-cased, for lookups
    Column("password_hash", Text, nullable=False),  # argon2id, PHC string
    Column("first_name", Text, nullable=True),
    Column("last_name", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("key", Text, nullable=False),  # a keyed digest of "email:..." or "address:..."
    Column("failed_at", DateTime(timezone=True), nullable=False),
)
