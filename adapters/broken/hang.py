#!/usr/bin/env python3
"""Never answers a run: the runner must time out, kill and restart it."""
import time
from common import serve


def on_run(msg):
    time.sleep(3600)


serve("broken-hang", on_run)
