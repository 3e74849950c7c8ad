"""The two scopes a token can grant: reading the user's Pantry, and changing it."""

from __future__ import annotations

READ_SCOPE = "pantry:read"
WRITE_SCOPE = "pantry:write"
ALL_SCOPES = (READ_SCOPE, WRITE_SCOPE)
