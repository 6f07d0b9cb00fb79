"""``python -m demo_project`` runs the pipeline's command line."""

from demo_project.cli import main

raise SystemExit(main())
