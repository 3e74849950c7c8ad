from pantry_api.cli import main

raise SystemExit(main())
