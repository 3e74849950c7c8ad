"""The bundle's entry point: pantry-mcp over stdio.

A host that runs a "uv" bundle by its entry point (`uv run server.py` in the unpacked
bundle) gets the same server as the manifest's mcp_config (`uv run ... pantry-mcp stdio`):
the pantry-mcp wheel that uv installs from the bundle's pyproject.toml and uv.lock,
configured by the PANTRY_MCP_* variables the manifest fills in from the user's settings.
"""

from pantry_mcp.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["stdio"]))
