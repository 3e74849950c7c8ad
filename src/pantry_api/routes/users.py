"""The acting user and their preferences."""

from __future__ import annotations

from pantry_api import models
from pantry_api.routing import Call, Router
from pantry_api.store import users as store

router = Router(tag="users")


@router.add("GET", "/users/me", summary="Who the acting user is, with counts", response=models.User)
async def get_me(call: Call) -> models.User:
    return await store.me(call.conn, call.user)


@router.add(
    "GET",
    "/users/me/preferences",
    summary="Read your preferences, and when you last saved them or declined to give them",
    response=models.Preferences,
)
async def get_preferences(call: Call) -> models.Preferences:
    return await store.preferences(call.conn, call.user)


@router.add(
    "PUT",
    "/users/me/preferences",
    summary="Replace your dietary tags, dislikes, weeknight time limit and servings",
    body=models.PreferencesIn,
    response=models.Preferences,
)
async def replace_preferences(call: Call, body: models.PreferencesIn) -> models.Preferences:
    return await store.replace_preferences(call.conn, call.user, body)


@router.add(
    "POST",
    "/users/me/preferences/declined",
    summary="Record that the person declined to give their preferences, now",
    response=models.Preferences,
)
async def decline_preferences(call: Call) -> models.Preferences:
    return await store.decline_preferences(call.conn, call.user)
