"""Baseline processes: what no sidecar code can beat, measured beside the sidecar in the same run.

`imports` loads the libraries the sidecar needs, starts anyio's asyncio loop (as `anyio.run` must) and validates the
request with a one-field pydantic model (pydantic loads its field and validator machinery only when a model is
defined and built, which any code on this stack does), then answers one ndjson request: the floor for start-up.
`echo` answers every ndjson request with a canned result: the floor for a round trip through pipes and Python.
"""

from __future__ import annotations

import json
import sys


def imports_then_answer() -> None:
    import aiosqlite  # noqa: F401
    import anyio
    import jsonrpcserver  # noqa: F401
    from pydantic import BaseModel

    class Request(BaseModel):
        method: str

    async def answer() -> None:
        line = sys.stdin.buffer.readline()
        request = json.loads(line)
        Request.model_validate(request)
        sys.stdout.buffer.write(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": {}}).encode() + b"\n")
        sys.stdout.flush()

    anyio.run(answer, backend="asyncio")


def echo() -> None:
    result = {"total": 100, "available": 100, "leased": 0, "expired": 0, "maxOrgs": 200,
              "indicator": {"label": "Orgs: 100/200 available", "level": "green"}}
    for line in sys.stdin.buffer:
        request = json.loads(line)
        sys.stdout.buffer.write(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result}).encode() + b"\n")
        sys.stdout.flush()


if __name__ == "__main__":
    {"imports": imports_then_answer, "echo": echo}[sys.argv[1]]()
