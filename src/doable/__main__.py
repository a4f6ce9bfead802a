"""``doable`` / ``python -m doable``: the command line.

``doable serve`` runs gevent workers, and gevent must patch the standard library before
any module that uses sockets, SSL or threads is imported, in the master too (it loads
the app to apply migrations, and its workers inherit what it imported). So the patch
comes first here, and only for ``serve``: every other command, and the tests, keep the
plain standard library.
"""

from __future__ import annotations

import sys

#: The group's options that take a value (``doable -e .env serve``).
_VALUE_OPTIONS = {"-e", "--env-file", "-A", "--app"}


def command_of(args: list[str]) -> str | None:
    """The subcommand in ``args``: the first word that is neither an option of the
    group nor an option's value."""
    words = iter(args)
    for word in words:
        if word in _VALUE_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main() -> None:
    if command_of(sys.argv[1:]) == "serve":
        from gevent import monkey

        monkey.patch_all()
    from doable.cli import main as run

    run()


if __name__ == "__main__":
    main()
