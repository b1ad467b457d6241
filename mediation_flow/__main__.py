"""``python -m mediation_flow``: the same as the ``mediation-flow`` command."""

from mediation_flow.cli import main

main()
