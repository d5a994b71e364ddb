"""A table of hostile inputs, driven through the real app in memory: frames and ids of every JSON type, and every
string param of every method (enumerated from the method specs) holding lone surrogates, NUL, 100k characters or
shell metacharacters. Each gets a result or a clear error, every frame written is standard JSON, and the sidecar
keeps serving."""

from __future__ import annotations

import json
import typing
from pathlib import Path
from types import UnionType
from typing import Any

import pytest
from pydantic import BaseModel

from sidecar.errors import ErrorCode
from sidecar.rpc.specs import MethodSpec
from sidecar.rpc.surface import method_specs
from tests.hostile.wire_checks import assert_frames_are_standard_json, assert_still_serving
from tests.support.fakesf import FakeSf
from tests.support.harness_memory import MemorySidecar

pytestmark = pytest.mark.anyio

HOSTILE_STRINGS = {
    "lone_high_surrogate": "qa\ud800",
    "lone_low_surrogate": "\udc00qa",
    "nul": "qa\x00x",
    "100k_characters": "q" * 100_000,
    "shell_metacharacters": "$(touch /tmp/pwned);`id`|&>x'\"\\*?~{a,b}\n",
}
CODES = {code.value for code in ErrorCode}


def _strip_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _base(annotation: Any) -> Any:
    annotation = _strip_optional(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def string_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Wire-name paths of every string field (list[str] items as index 0), nested models included."""
    paths = []
    for name, field in model.model_fields.items():
        wire = field.alias or name
        kind = _base(field.annotation)
        if kind is str:
            paths.append((*prefix, wire))
        elif typing.get_origin(kind) is list and _base(typing.get_args(kind)[0]) is str:
            paths.append((*prefix, wire, "0"))
        elif isinstance(kind, type) and issubclass(kind, BaseModel):
            paths.extend(string_paths(kind, (*prefix, wire)))
    return paths


def placeholder(annotation: Any) -> Any:
    kind = _base(annotation)
    if kind is str:
        return "qa1"
    if kind is bool:
        return False
    if kind in (int, float):
        return 1
    if typing.get_origin(kind) is list:
        return ["org", "list"]
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return {(f.alias or n): placeholder(f.annotation) for n, f in kind.model_fields.items() if f.is_required()}
    return {}


def params_with(spec: MethodSpec, path: tuple[str, ...], value: str) -> dict[str, Any]:
    params = {(f.alias or n): placeholder(f.annotation) for n, f in spec.params.model_fields.items()}
    target: Any = params
    fields = spec.params.model_fields
    for step in path[:-1]:
        if step == "0":
            continue
        field = next(f for n, f in fields.items() if (f.alias or n) == step)
        kind = _base(field.annotation)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            target[step] = target.get(step) or placeholder(kind)
            fields = kind.model_fields
        elif step not in target:
            target[step] = placeholder(kind)
        target = target[step]
    if path[-1] == "0" or isinstance(target, list):
        target[0] = value
    else:
        target[path[-1]] = value
    return params


CASES = [
    pytest.param(spec.name, path, None, id=f"{spec.name}:{'.'.join(path)}")
    for spec in method_specs()
    for path in string_paths(spec.params)
]


def test_the_table_covers_every_method_with_a_string_param() -> None:
    with_strings = {spec.name for spec in method_specs() if string_paths(spec.params)}
    assert {"org:claim", "org:register", "org:checkAccess", "sf:run", "agent:provision", "auth:signIn"} <= with_strings
    assert {case.values[0] for case in CASES} == with_strings


def assert_clear_answer(answer: dict, id_: Any) -> None:
    assert answer["id"] == id_
    if "result" in answer:
        return
    error = answer["error"]
    assert error["data"]["code"] in CODES and error["message"], answer
    assert error["data"]["code"] != "INTERNAL", f"not a clear error: {error['message'][:300]}"


@pytest.mark.parametrize("method, path, _", CASES)
async def test_hostile_string_in_every_string_param(
    home: Path, fake_sf: FakeSf, method: str, path: tuple[str, ...], _: None
) -> None:
    spec = next(s for s in method_specs() if s.name == method)
    async with MemorySidecar.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        await sc.call("org:register", "qa1")
        for value in HOSTILE_STRINGS.values():
            params = params_with(spec, path, value)
            sent = [params] if spec.single_object else params
            response = await sc.request(method, sent, timeout=30)
            assert_clear_answer(response, response["id"])
        assert_frames_are_standard_json(sc)
        await assert_still_serving(sc)


IDS = {
    "string": ("s-1", "s-1"),
    "empty_string": ("", ""),
    "surrogate_string": ("\ud83d", "\ud83d"),
    "integer": (7, 7),
    "negative_integer": (-7, -7),
    "big_integer": (2**70, 2**70),
    "float": (1.5, 1.5),
    "null": (None, None),
    "true": (True, "invalid"),
    "false": (False, "invalid"),
    "object": ({"a": 1}, "invalid"),
    "array": ([1], "invalid"),
}


@pytest.mark.parametrize("kind", sorted(IDS))
async def test_ids_of_every_json_type(sidecar_memory: MemorySidecar, kind: str) -> None:
    sc = sidecar_memory
    id_, expected = IDS[kind]
    start = len(sc.messages)
    await sc.send({"jsonrpc": "2.0", "id": id_, "method": "org:status"})
    answer = await sc.wait_for(lambda m: isinstance(m, dict) and ("result" in m or "error" in m), start=start)
    if expected == "invalid":
        assert answer["id"] is None and answer["error"]["data"]["code"] == "INVALID_REQUEST"
    else:
        assert answer["id"] == expected and "result" in answer
    assert_frames_are_standard_json(sc)
    await assert_still_serving(sc)


FRAMES = {
    "null": (b"null", "INVALID_REQUEST"),
    "true": (b"true", "INVALID_REQUEST"),
    "number": (b"3.5", "INVALID_REQUEST"),
    "string": (b'"org:status"', "INVALID_REQUEST"),
    "object_empty": (b"{}", "INVALID_REQUEST"),
    "array_of_numbers": (b"[1,2]", "INVALID_REQUEST"),
    "nested_deep": (b"[" * 100_000 + b"]" * 100_000, "PARSE_ERROR"),
    "nul_byte": (b'{"jsonrpc":"2.0","id":1,"method":"org:status"\x00}', "PARSE_ERROR"),
    "nan_frame": (b"NaN", "INVALID_REQUEST"),
    "method_number": (b'{"jsonrpc":"2.0","id":1,"method":5}', "INVALID_REQUEST"),
    "params_number": (b'{"jsonrpc":"2.0","id":1,"method":"org:status","params":5}', "INVALID_REQUEST"),
    "params_null": (b'{"jsonrpc":"2.0","id":1,"method":"org:status","params":null}', "INVALID_REQUEST"),
}


@pytest.mark.parametrize("kind", sorted(FRAMES))
async def test_frames_of_every_json_type(sidecar_memory: MemorySidecar, kind: str) -> None:
    sc = sidecar_memory
    raw, code = FRAMES[kind]
    start = len(sc.messages)
    await sc.send_raw(raw + b"\n")
    answer = await sc.wait_for(lambda m: isinstance(m, (dict, list)), start=start)
    answers = answer if isinstance(answer, list) else [answer]
    assert {a["error"]["data"]["code"] for a in answers} == {code}, answers
    assert_frames_are_standard_json(sc)
    await assert_still_serving(sc)


@pytest.fixture
async def sidecar_memory(home: Path, fake_sf: FakeSf):  # type: ignore[no-untyped-def]
    async with MemorySidecar.start(home, settings=fake_sf.settings(), env=fake_sf.env) as sc:
        yield sc


def test_hostile_strings_really_are_hostile() -> None:
    assert json.dumps(HOSTILE_STRINGS["lone_high_surrogate"]) == '"qa\\ud800"'
    assert len(HOSTILE_STRINGS["100k_characters"]) == 100_000
