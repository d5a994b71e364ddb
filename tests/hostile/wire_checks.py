"""What every hostile-wire test checks after its attack: every frame written was standard UTF-8 JSON, and the
sidecar still answers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sidecar.devtools.client import Peer


def _no_constant(text: str) -> Any:
    raise AssertionError(f"non-standard JSON constant {text} on the wire")


STRICT = json.JSONDecoder(parse_constant=_no_constant)


def assert_frames_are_standard_json(sc: Peer) -> None:
    assert sc.undecodable == []
    for frame in sc.frames:
        STRICT.decode(frame.decode("utf-8"))  # strict UTF-8, no NaN/Infinity


async def assert_still_serving(sc: Peer) -> None:
    status = await sc.call("org:status")
    assert status["indicator"]["label"].startswith("Orgs: ")
