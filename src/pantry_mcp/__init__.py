"""pantry-mcp: an MCP server in front of the Pantry cookbook and meal-planning API."""

__version__ = "0.1.0"
