"""``python -m cascadeflow`` runs the ``cascadeflow`` command."""

from cascadeflow.cli import main

raise SystemExit(main())
