"""Pantry: the cookbook, pantry and meal-planning REST service that pantry-mcp wraps."""

from importlib.metadata import PackageNotFoundError, version

# Shipped in the pantry-mcp distribution, whose pyproject.toml holds the one version number.
try:
    __version__ = version("pantry-mcp")
except PackageNotFoundError:  # pragma: no cover - only when run from sources not installed
    __version__ = "0+unknown"
