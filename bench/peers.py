"""Baseline processes: what no sidecar code can beat, measured beside the sidecar in the same run.

`imports` only imports the libraries the sidecar needs, including the parts of them it cannot run without (anyio's
asyncio backend; pydantic's field and validator modules, which `import pydantic` defers until a model is defined),
then answers one ndjson request: the floor for start-up.
`echo` answers every ndjson request with a canned result: the floor for a round trip through pipes and Python.
"""

from __future__ import annotations

import json
import sys


def imports_then_answer() -> None:
    import asyncio  # noqa: F401  (anyio.run loads it, and its own asyncio backend)
    import sqlite3  # noqa: F401

    import aiosqlite  # noqa: F401
    import anyio
    import anyio._backends._asyncio  # noqa: F401
    import jsonrpcserver  # noqa: F401
    import pydantic.fields  # (with pydantic.types: what defining any model loads)
    import pydantic.plugin._loader  # noqa: F401  (what building any validator loads)
    from pydantic import BaseModel, TypeAdapter  # noqa: F401

    line = sys.stdin.buffer.readline()
    request = json.loads(line)
    sys.stdout.buffer.write(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": {}}).encode() + b"\n")
    sys.stdout.flush()


def echo() -> None:
    result = {
        "total": 100,
        "available": 100,
        "leased": 0,
        "expired": 0,
        "maxOrgs": 200,
        "indicator": {"label": "Orgs: 100/200 available", "level": "green"},
    }
    for line in sys.stdin.buffer:
        request = json.loads(line)
        sys.stdout.buffer.write(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result}).encode() + b"\n")
        sys.stdout.flush()


if __name__ == "__main__":
    {"imports": imports_then_answer, "echo": echo}[sys.argv[1]]()
