#!/usr/bin/env python3
"""The smallest adapter the protocol allows: it declares the struct layer and answers every
step with an empty result. The runner's benchmark uses it to time protocol round trips."""
import json
import sys

for line in sys.stdin:
    msg = json.loads(line)
    if msg["type"] == "start":
        reply = {"type": "ready", "protocol": 1, "implementation": {"name": "echo", "version": "0"},
                 "capabilities": {"layers": ["struct"]}}
    elif msg["type"] == "run":
        reply = {"type": "result", "seq": msg["seq"], "steps": [{} for _ in msg["vector"]["steps"]]}
    else:
        break
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
