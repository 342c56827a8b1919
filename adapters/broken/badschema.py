#!/usr/bin/env python3
"""Answers with JSON that breaks the protocol schema (a result without seq's type, extra keys)."""
from common import serve


def on_run(msg):
    return {"type": "result", "seq": msg["seq"], "steps": [{} for _ in msg["vector"]["steps"]], "surprise": True}


serve("broken-badschema", on_run)
