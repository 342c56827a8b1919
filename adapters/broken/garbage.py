#!/usr/bin/env python3
"""Writes lines that are not protocol messages: the runner must mark the vector errored."""
import sys
from common import serve


def on_run(msg):
    sys.stdout.write("this is not JSON\n")
    sys.stdout.flush()
    return None


serve("broken-garbage", on_run)
