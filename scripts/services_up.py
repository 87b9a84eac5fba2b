"""Exit 0 when the PostgreSQL and Redis named on the command line answer, 1 otherwise."""

import socket
import sys
from urllib.parse import urlsplit


def answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=2).close()
    except OSError:
        print(f"not reachable: {parts.scheme}://{parts.hostname}:{parts.port}", file=sys.stderr)
        return False
    return True


sys.exit(0 if all([answers(url) for url in sys.argv[1:]]) else 1)
