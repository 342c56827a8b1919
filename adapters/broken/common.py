"""Shared handshake for the deliberately broken adapters the runner's tests use."""
import json
import sys


def ready(name):
    return {
        "type": "ready",
        "protocol": 1,
        "implementation": {"name": name, "version": "0.0.0", "language": "Python 3"},
        "capabilities": {"layers": ["struct"]},
    }


def serve(name, on_run):
    """Answers start with ready and hands each run message to on_run."""
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        if msg.get("type") == "start":
            reply = ready(name)
        elif msg.get("type") == "run":
            reply = on_run(msg)
            if reply is None:
                continue
        else:
            return
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
