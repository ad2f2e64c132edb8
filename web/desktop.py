"""The entry point of the single-file desktop build (``dist/outreach``, ``dist/outreach.exe``).

Started with no arguments (a double click), it is ``outreach serve --port 0 --open``: the
app on a free local port, the user's browser opened on it. With arguments it is the
command line (``outreach leads list``), the same binary.
"""

from __future__ import annotations

import sys

#: What a double click runs.
DEFAULT_COMMAND = ["serve", "--port", "0", "--open"]


def command_line(argv: list[str]) -> list[str]:
    """The arguments to run: the user's, or the desktop default when there are none."""
    return argv or list(DEFAULT_COMMAND)


def main() -> None:
    """Run the command line, or the app in the browser when started without arguments."""
    from outreach.web.cli import cli

    cli.main(args=command_line(sys.argv[1:]), prog_name="outreach")


if __name__ == "__main__":
    main()
