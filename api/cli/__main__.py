"""``python -m api.cli`` is the ``switchover`` command."""

from . import main

main()
