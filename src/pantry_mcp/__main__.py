from pantry_mcp.cli import main

raise SystemExit(main())
