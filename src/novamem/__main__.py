from novamem.cli.main import main

raise SystemExit(main())
