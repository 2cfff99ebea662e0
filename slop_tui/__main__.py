from slop_tui.cli import main

raise SystemExit(main())
