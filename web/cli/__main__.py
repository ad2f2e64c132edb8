"""``python -m outreach.web.cli``: the same as the ``outreach`` command."""

from . import main

main()
