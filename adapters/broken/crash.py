#!/usr/bin/env python3
"""Dies in the middle of every vector: the runner must restart it and mark the vector errored."""
import sys
from common import serve


def on_run(msg):
    sys.stderr.write("crash adapter: giving up on vector %s\n" % msg["vector"]["id"])
    sys.exit(3)


serve("broken-crash", on_run)
