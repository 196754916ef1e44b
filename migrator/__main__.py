"""``python -m migrator`` is the ``switchover`` command."""

from .cli import main

main()
