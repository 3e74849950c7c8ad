"""Identifiers: readable slugs for recipes and ingredients, short random ids for the rest."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o/1/l: ids get read aloud and retyped


def slugify(text: str, *, max_length: int = 60) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "recipe"


def random_suffix(length: int = 6) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str) -> str:
    return f"{prefix}-{random_suffix(8)}"


def shuffle_key(recipe_id: str) -> int:
    """A recipe's fixed pseudo-random key (31 bits, so it fits a signed INTEGER everywhere).

    A search with a seed orders ties by ``shuffle_key XOR seed``: the same seed always
    gives the same order, and different seeds give different ones.
    """
    return int.from_bytes(hashlib.sha256(recipe_id.encode()).digest()[:4], "big") & 0x7FFFFFFF
