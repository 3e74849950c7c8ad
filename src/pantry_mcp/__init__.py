"""pantry-mcp: an MCP server in front of the Pantry cookbook and meal-planning API."""

from importlib.metadata import PackageNotFoundError, version

# The one version number lives in pyproject.toml; an installed copy (a wheel, or the
# checkout's editable install) knows it from its metadata.
try:
    __version__ = version("pantry-mcp")
except PackageNotFoundError:  # pragma: no cover - only when run from sources not installed
    __version__ = "0+unknown"
