"""Issue 8 items 1, 15 and 18 (protocol) against the real process: each test is named after its attack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.hostile.wire_checks import assert_frames_are_standard_json, assert_still_serving
from tests.support.fakesf import FakeSf
from tests.support.harness import SidecarProcess

pytestmark = pytest.mark.anyio


async def answer_to(sc: SidecarProcess, raw: bytes, key: object = None) -> dict:
    start = len(sc.messages)
    await sc.send_raw(raw)
    return await sc.wait_for(
        lambda m: isinstance(m, dict) and ("error" in m or "result" in m) and (key is None or m.get("id") == key),
        start=start,
    )


# 1: a lone UTF-16 surrogate echoed back (JavaScript makes them by cutting an emoji in half).


async def test_lone_surrogate_id_is_answered_with_the_id_escaped(sidecar: SidecarProcess) -> None:
    answer = await answer_to(sidecar, b'{"jsonrpc":"2.0","id":"\\ud800","method":"org:status"}\n')
    assert answer["id"] == "\ud800" and "result" in answer
    assert b'"\\ud800"' in sidecar.frames[-1]  # escaped on the wire, valid UTF-8
    assert_frames_are_standard_json(sidecar)
    await assert_still_serving(sidecar)


async def test_lone_surrogate_in_check_access_target_echoed_in_error_data(sidecar: SidecarProcess) -> None:
    await sidecar.call("org:register", "qa1")
    await sidecar.call("org:claim", "a1")
    response = await sidecar.request("org:checkAccess", ["a1", "qa1\udc00"])
    assert "error" in response and response["error"]["data"]["code"] in ("ACCESS_DENIED", "INVALID_PARAMS")
    assert_frames_are_standard_json(sidecar)
    await assert_still_serving(sidecar)


async def test_lone_surrogate_in_sf_run_argument_echoed_in_its_error(sidecar: SidecarProcess) -> None:
    await sidecar.call("org:register", "qa1")
    await sidecar.call("org:claim", "a1")
    response = await sidecar.request(
        "sf:run", [{"agentId": "a1", "args": ["org", "display", "--target-org", "other\ud83d"]}]
    )
    assert "error" in response, response
    assert_frames_are_standard_json(sidecar)
    await assert_still_serving(sidecar)


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400"])
async def test_non_standard_number_id_is_an_invalid_request_never_echoed(
    sidecar: SidecarProcess, literal: bytes
) -> None:
    answer = await answer_to(sidecar, b'{"jsonrpc":"2.0","id":%s,"method":"org:status"}\n' % literal)
    assert answer["id"] is None
    assert (answer["error"]["code"], answer["error"]["data"]["code"]) == (-32600, "INVALID_REQUEST")
    assert "not JSON" in answer["error"]["message"]
    assert_frames_are_standard_json(sidecar)
    await assert_still_serving(sidecar)


async def test_non_standard_number_in_params_is_refused_with_the_id(sidecar: SidecarProcess) -> None:
    answer = await answer_to(
        sidecar, b'{"jsonrpc":"2.0","id":7,"method":"org:register","params":["qa1",{"loginUrl":NaN}]}\n', key=7
    )
    assert answer["error"]["data"]["code"] == "INVALID_REQUEST" and "not JSON" in answer["error"]["message"]
    assert await sidecar.call("org:list") == []
    assert_frames_are_standard_json(sidecar)


# 15: the Content-Length framing finds the next header block after a bad one.

BAD_HEADERS = {
    "too_short": b'Content-Length: 5\r\n\r\n{"jsonrpc":"2.0","id":"bad","method":"org:status"}',
    "too_long": b'Content-Length: 900\r\n\r\n{"jsonrpc":"2.0","id":"bad","method":"org:status"}',
    "negative": b'Content-Length: -5\r\n\r\n{"jsonrpc":"2.0","id":"bad","method":"org:status"}',
    "non_numeric": b'Content-Length: abc\r\n\r\n{"jsonrpc":"2.0","id":"bad","method":"org:status"}',
    "exponent": b'Content-Length: 1e3\r\n\r\n{"jsonrpc":"2.0","id":"bad","method":"org:status"}',
    "line_without_colon": b'Content-Length 48\r\n\r\n{"jsonrpc":"2.0","id":"bad","method":"org:status"}',
    "no_content_length": b'Content-Type: application/json\r\n\r\n{"jsonrpc":"2.0","id":"bad","method":"org:status"}',
}


def content_length_frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


@pytest.mark.parametrize("bad", sorted(BAD_HEADERS))
async def test_content_length_resynchronises_after_a_bad_header(home: Path, fake_sf: FakeSf, bad: str) -> None:
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env, framing="content-length") as sc:
        start = len(sc.messages)
        good = [content_length_frame({"jsonrpc": "2.0", "id": n, "method": "org:status"}) for n in range(3)]
        await sc.send_raw(BAD_HEADERS[bad] + b"".join(good))
        for n in range(3):
            answer = await sc.wait_for(lambda m, n=n: isinstance(m, dict) and m.get("id") == n, start=start, timeout=10)
            assert "result" in answer, answer
        errors = [m for m in sc.messages[start:] if isinstance(m, dict) and "error" in m]
        assert len(errors) == 1, errors  # reported once
        assert errors[0]["error"]["code"] == -32700 and errors[0]["id"] is None
        assert not [m for m in sc.messages[start:] if isinstance(m, dict) and m.get("id") == "bad"]
        await assert_still_serving(sc)


# 18 (protocol): the code matches protocol.md.


@pytest.mark.parametrize(
    "method, params, snake",
    [
        ("org:claim", {"agent_id": "a1"}, "agent_id"),
        ("org:release", {"org_id": "org_x"}, "org_id"),
        (
            "org:register",
            {"alias": "qa1", "options": {"login_url": "https://test.salesforce.com"}},
            "options.login_url",
        ),
    ],
)
async def test_snake_case_param_names_are_invalid_params_naming_the_param(
    sidecar: SidecarProcess, method: str, params: dict, snake: str
) -> None:
    response = await sidecar.request(method, params)
    error = response["error"]
    assert (error["code"], error["data"]["code"], error["data"]["param"]) == (-32602, "INVALID_PARAMS", snake)
    assert snake in error["message"] and "camelCase" in error["message"]
    assert await sidecar.call("org:list") == []


@pytest.mark.parametrize(
    "encoding, name", [("utf-16", "UTF-16-LE"), ("utf-16-le", "UTF-16-LE"), ("utf-16-be", "UTF-16-BE")]
)
async def test_utf16_request_frame_is_a_parse_error_naming_the_encoding(
    home: Path, fake_sf: FakeSf, encoding: str, name: str
) -> None:
    async with SidecarProcess.start(home, settings=fake_sf.settings(), env=fake_sf.env, framing="content-length") as sc:
        body = '{"jsonrpc":"2.0","id":1,"method":"org:status"}'.encode(encoding)
        answer = await answer_to(sc, b"Content-Length: %d\r\n\r\n" % len(body) + body)
        assert answer["id"] is None and answer["error"]["code"] == -32700
        assert name in answer["error"]["message"] and "UTF-8" in answer["error"]["message"]
        await assert_still_serving(sc)


async def test_latin1_request_frame_is_a_parse_error_saying_not_utf8(sidecar: SidecarProcess) -> None:
    answer = await answer_to(
        sidecar, '{"jsonrpc":"2.0","id":1,"method":"org:claim","params":["agént"]}\n'.encode("latin-1")
    )
    assert answer["error"]["code"] == -32700 and "UTF-8" in answer["error"]["message"]
    await assert_still_serving(sidecar)
