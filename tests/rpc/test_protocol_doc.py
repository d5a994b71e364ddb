"""protocol.md and the code agree: the same methods and notifications, and every example fits the models."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sidecar.errors import ErrorCode
from sidecar.rpc.codes import RPC_CODES
from sidecar.rpc.dispatch import bind_params
from sidecar.rpc.surface import method_specs, notifications

DOC = Path(__file__).resolve().parents[2] / "protocol.md"
HEADING = re.compile(r"^### `([^`]+)`( \(notification\))?\s*$", re.MULTILINE)
SPECS = {spec.name: spec for spec in method_specs()}
NOTES = {n.name: n for n in notifications()}


def sections() -> dict[str, tuple[bool, str]]:
    text = DOC.read_text(encoding="utf-8")
    found: dict[str, tuple[bool, str]] = {}
    matches = list(HEADING.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = text[match.end() : end].split("\n## ")[0]
        assert match.group(1) not in found, f"{match.group(1)} is documented twice"
        found[match.group(1)] = (bool(match.group(2)), body)
    return found


def example_lines(body: str, arrow: str) -> list[dict]:
    return [json.loads(line[4:]) for line in body.splitlines() if line.startswith(arrow + " ")]


def test_every_registered_method_is_documented_and_nothing_else() -> None:
    documented = {name for name, (is_note, _) in sections().items() if not is_note}
    assert documented == set(SPECS), (
        f"missing from protocol.md: {sorted(set(SPECS) - documented)}; "
        f"documented but not registered: {sorted(documented - set(SPECS))}"
    )


def test_every_notification_is_documented_and_nothing_else() -> None:
    documented = {name for name, (is_note, _) in sections().items() if is_note}
    assert documented == set(NOTES)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_method_example_fits_the_models(name: str) -> None:
    _is_note, body = sections()[name]
    for field in ("- params:", "- result:", "- errors:"):
        assert field in body, f"{name}: no '{field}' line"
    (request,) = example_lines(body, "-->")
    (response,) = example_lines(body, "<--")
    spec = SPECS[name]
    assert request["method"] == name and request["jsonrpc"] == "2.0"
    assert response["id"] == request["id"]
    params = request.get("params", [])
    bind_params(spec, tuple(params) if isinstance(params, list) else (), params if isinstance(params, dict) else {})
    if "error" in response:
        kind = ErrorCode(response["error"]["data"]["code"])
        assert response["error"]["code"] == RPC_CODES[kind]
        assert kind in spec.errors, f"{name}: example error {kind} is not among the declared errors"
    else:
        spec.result_adapter.validate_python(response["result"])


@pytest.mark.parametrize("name", sorted(NOTES))
def test_notification_example_fits_its_model(name: str) -> None:
    _, body = sections()[name]
    (message,) = example_lines(body, "<--")
    assert message["method"] == name and "id" not in message
    NOTES[name].params.model_validate(message["params"])


def test_declared_error_codes_are_in_the_error_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    for code in ErrorCode:
        assert f"| `{code.value}` | {RPC_CODES[code]} |" in text, f"{code} missing from the error table"
