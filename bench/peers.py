"""Baseline processes: what no sidecar code can beat, measured beside the sidecar in the same run.

`imports` loads the libraries the sidecar needs (the names it uses: pydantic loads its model machinery lazily, so
a bare `import pydantic` would not), then answers one ndjson request: the floor for start-up.
`echo` answers every ndjson request with a canned result: the floor for a round trip through pipes and Python.
"""

from __future__ import annotations

import json
import sys


def imports_then_answer() -> None:
    import aiosqlite  # noqa: F401
    import anyio  # noqa: F401
    import jsonrpcserver  # noqa: F401
    from pydantic import BaseModel, TypeAdapter  # noqa: F401

    line = sys.stdin.buffer.readline()
    request = json.loads(line)
    sys.stdout.buffer.write(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": {}}).encode() + b"\n")
    sys.stdout.flush()


def echo() -> None:
    result = {"total": 100, "available": 100, "leased": 0, "expired": 0, "maxOrgs": 200,
              "indicator": {"label": "Orgs: 100/200 available", "level": "green"}}
    for line in sys.stdin.buffer:
        request = json.loads(line)
        sys.stdout.buffer.write(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result}).encode() + b"\n")
        sys.stdout.flush()


if __name__ == "__main__":
    {"imports": imports_then_answer, "echo": echo}[sys.argv[1]]()
