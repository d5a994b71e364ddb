"""The wire, against the real app in memory: every kind of bad input gets its error and the next request still works."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from sidecar.rpc.framing import MAX_MESSAGE_BYTES
from tests.support.fakesf import FakeSf
from tests.support.harness import RpcError
from tests.support.harness_memory import MemorySidecar

pytestmark = pytest.mark.anyio


async def assert_still_serving(sc: MemorySidecar) -> None:
    status = await sc.call("org:status")
    assert status["indicator"]["label"].startswith("Orgs: ")


@pytest.mark.parametrize(
    "raw, code, kind",
    [
        (b"this is not json\n", -32700, "PARSE_ERROR"),
        (b'{"jsonrpc": "2.0", "id": 1, "method": \n', -32700, "PARSE_ERROR"),
        (b'{"jsonrpc": "1.0", "id": 1, "method": "org:list"}\n', -32600, "INVALID_REQUEST"),
        (b'{"jsonrpc": "2.0", "id": 1}\n', -32600, "INVALID_REQUEST"),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "org:list", "params": "x"}\n', -32600, "INVALID_REQUEST"),
        (b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "org:list"}\n', -32600, "INVALID_REQUEST"),
        (b"[]\n", -32600, "INVALID_REQUEST"),
        (b"42\n", -32600, "INVALID_REQUEST"),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "org:nope"}\n', -32601, "METHOD_NOT_FOUND"),
    ],
)
async def test_bad_frames_get_errors_and_serving_goes_on(
    sidecar: MemorySidecar, raw: bytes, code: int, kind: str
) -> None:
    start = len(sidecar.messages)
    await sidecar.send_raw(raw)
    error = await sidecar.wait_for(lambda m: isinstance(m, dict) and "error" in m, start=start)
    assert (error["error"]["code"], error["error"]["data"]["code"]) == (code, kind)
    await assert_still_serving(sidecar)


@pytest.mark.parametrize(
    "method, params, named_param",
    [
        ("org:claim", [5], "agentId"),
        ("org:claim", [], "agentId"),
        ("org:claim", {"agent": "a1"}, "agentId"),
        ("org:release", [None], "orgId"),
        ("org:register", ["qa1", {"expiresAt": "tomorrow"}], "options.expiresAt"),
        ("org:register", ["qa1", {"color": "red"}], "options.color"),
        ("org:remove", ["org_x", {"force": "yes"}], "options.force"),
        ("org:checkAccess", ["a1"], "target"),
        ("org:list", ["extra"], "params"),
    ],
)
async def test_wrong_params_name_the_parameter(
    sidecar: MemorySidecar, method: str, params: object, named_param: str
) -> None:
    with pytest.raises(RpcError) as caught:
        await sidecar.call(method, **params) if isinstance(params, dict) else await sidecar.call(method, *params)
    assert caught.value.code == -32602
    assert caught.value.kind == "INVALID_PARAMS"
    assert named_param in caught.value.message
    await assert_still_serving(sidecar)


@pytest.mark.parametrize("alias", ["-o prod", "a;rm -rf ~", "../x", "$(reboot)", "a b"])
async def test_hostile_aliases_over_the_wire(sidecar: MemorySidecar, alias: str) -> None:
    with pytest.raises(RpcError) as caught:
        await sidecar.call("org:register", alias)
    assert (caught.value.code, caught.value.kind, caught.value.data["param"]) == (-32602, "INVALID_PARAMS", "alias")
    assert await sidecar.call("org:list") == []


async def test_oversize_message_is_refused_and_the_next_one_served(sidecar: MemorySidecar) -> None:
    start = len(sidecar.messages)
    body = json.dumps(
        {"jsonrpc": "2.0", "id": 99, "method": "org:register", "params": ["x" * (MAX_MESSAGE_BYTES + 10)]}
    )
    await sidecar.send_raw(body.encode() + b"\n")
    error = await sidecar.wait_for(lambda m: isinstance(m, dict) and "error" in m, start=start, timeout=30)
    assert error["error"]["data"]["code"] == "MESSAGE_TOO_LARGE"
    await assert_still_serving(sidecar)


async def test_batch_answers_each_element_and_skips_notifications(sidecar: MemorySidecar) -> None:
    await sidecar.send(
        [
            {"jsonrpc": "2.0", "id": "a", "method": "org:status"},
            {"jsonrpc": "2.0", "id": "b", "method": "org:nope"},
            {"jsonrpc": "2.0", "method": "org:status"},
            {"jsonrpc": "2.0", "id": "c", "method": "org:claim", "params": [1]},
            "not a request",
        ]
    )
    batch = await sidecar.wait_for(lambda m: isinstance(m, list))
    by_id = {r["id"]: r for r in batch if r["id"] is not None}
    assert set(by_id) == {"a", "b", "c"} and len(batch) == 4
    assert "result" in by_id["a"]
    assert by_id["b"]["error"]["code"] == -32601
    assert by_id["c"]["error"]["code"] == -32602
    assert [r["error"]["code"] for r in batch if r["id"] is None] == [-32600]


async def test_named_params_work_like_positional(sidecar: MemorySidecar) -> None:
    org = await sidecar.call("org:register", alias="qa1", options={"loginUrl": "https://test.salesforce.com"})
    assert org["loginUrl"] == "https://test.salesforce.com"
    assert (await sidecar.call("org:claim", agentId="a1"))["id"] == org["id"]


async def test_handler_exception_is_an_error_response_not_a_crash(home: Path, fake_sf: FakeSf) -> None:
    # A table dropped under the running sidecar (a damaged file) makes the handler's SQL raise.
    async with MemorySidecar.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        await sc.call("org:status")
        with sqlite3.connect(home / "sidecar.db") as conn:
            conn.execute("DROP TABLE scratch_orgs")
        with pytest.raises(RpcError) as caught:
            await sc.call("org:list")
        assert (caught.value.code, caught.value.kind) == (-32603, "INTERNAL")
        assert "no such table" in caught.value.message
        assert (await sc.call("sidecar:health"))["database"]["schemaVersion"] >= 1
        assert "Traceback" in sc.stderr_text()  # logged where a developer looks, not on the wire


async def test_content_length_framing(home: Path, fake_sf: FakeSf) -> None:
    async with MemorySidecar.start(home, settings=fake_sf.settings(), env=fake_sf.env, framing="content-length") as sc:
        org = await sc.call("org:register", "qa1")
        assert (await sc.call("org:claim", "agent-é"))["id"] == org["id"]
        start = len(sc.messages)
        await sc.send_raw(b"Content-Length: 5\r\n\r\nnope!")
        error = await sc.wait_for(lambda m: isinstance(m, dict) and "error" in m, start=start)
        assert error["error"]["code"] == -32700
        await assert_still_serving(sc)


async def test_cancel_request_is_accepted_for_unknown_ids(sidecar: MemorySidecar) -> None:
    await sidecar.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 12345}})
    await assert_still_serving(sidecar)


async def test_first_requests_for_late_bound_channels_wait_for_them_instead_of_failing(
    home: Path, fake_sf: FakeSf
) -> None:
    """Agents, governance and provisioning are bound just after serving starts (start-up speed); a request that
    arrives first must be answered by them, while a truly unknown method is still -32601."""
    async with MemorySidecar.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        await sc.send_raw(
            b'{"jsonrpc": "2.0", "id": "s", "method": "auth:session"}\n'
            b'{"jsonrpc": "2.0", "id": "q", "method": "provision:queue"}\n'
            b'{"jsonrpc": "2.0", "id": "u", "method": "org:nope"}\n'
            b'{"jsonrpc": "2.0", "id": "l", "method": "org:list"}\n'
        )
        answers = {
            key: await sc.wait_for(lambda m, key=key: isinstance(m, dict) and m.get("id") == key)
            for key in ("s", "q", "u", "l")
        }
        assert answers["s"]["result"] == {"authenticated": False}
        assert answers["q"]["result"] == []
        assert answers["u"]["error"]["code"] == -32601
        assert answers["l"]["result"] == []
