from workbench_luigi.run import main

raise SystemExit(main())
