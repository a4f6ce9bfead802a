"""``doable`` / ``python -m doable``: the command line.

``doable serve`` runs gevent workers, and gevent must patch the standard library before
any module that uses sockets, SSL or threads is imported, in the master too (it loads
the app to apply migrations, and its workers inherit what it imported). So the patch
comes first here, and only for ``serve``: every other command, and the tests, keep the
plain standard library.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        from gevent import monkey

        monkey.patch_all()
    from doable.cli import main as run

    run()


if __name__ == "__main__":
    main()
