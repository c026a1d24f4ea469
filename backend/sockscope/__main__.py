from sockscope.cli import main

raise SystemExit(main())
