"""Dietary tags as bits of one integer, so a recipe's diets filter with one mask test."""

from __future__ import annotations

from collections.abc import Iterable

from pantry_api.models import DIETARY_TAGS, DietaryTag

BITS: dict[str, int] = {tag: 1 << index for index, tag in enumerate(DIETARY_TAGS)}


def to_mask(tags: Iterable[str]) -> int:
    mask = 0
    for tag in tags:
        mask |= BITS[tag]
    return mask


def from_mask(mask: int) -> list[DietaryTag]:
    return [tag for tag in DIETARY_TAGS if mask & BITS[tag]]  # type: ignore[misc]
