#!/usr/bin/env python3
"""Answers every step, but wrongly: the runner must report each as a failure with the difference."""
from common import serve


def on_run(msg):
    steps = [{"size": 0, "bytes": "00", "fields": {}} for _ in msg["vector"]["steps"]]
    return {"type": "result", "seq": msg["seq"], "steps": steps}


serve("broken-wrong", on_run)
