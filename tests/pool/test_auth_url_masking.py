"""The masker hides an org auth URL (`force://...`, as `org auth show-sfdx-auth-url` prints it) wherever the sidecar
shows CLI output: a terminal stream split anywhere, an error message, a parsed `--json` document, the human table."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from sidecar.fakesf import executable_path
from sidecar.provisioning.masking import LineMasker, mask, mask_value
from tests.support.fakesf import scratch_org


@pytest.fixture
def shown(tmp_path: Path) -> tuple[str, str]:
    """(the --json document, the human output) of the fake's `org auth show-sfdx-auth-url`: real shapes."""
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"noise": False, "orgs": [scratch_org("qa1")]}))
    env = {"SF_FAKE_STATE": str(state), "PATH": "/usr/bin:/bin"}
    argv = [str(executable_path()), "org", "auth", "show-sfdx-auth-url", "--target-org", "qa1", "--no-prompt"]
    as_json = subprocess.run([*argv, "--json"], env=env, capture_output=True, check=True, timeout=60, text=True)
    human = subprocess.run(argv, env=env, capture_output=True, check=True, timeout=60, text=True)
    return as_json.stdout, human.stdout


def token_of(document: str) -> str:
    url = json.loads(document)["result"]["sfdxAuthUrl"]
    return str(url.split("::", 1)[1].rsplit("@", 1)[0])


def test_a_stream_split_at_every_place_never_shows_the_token(shown: tuple[str, str]) -> None:
    document, human = shown
    token = token_of(document)
    for text in (document, human):
        for cut in range(0, len(text), 7):
            masker = LineMasker()
            out = masker.feed(text[:cut]) + masker.feed(text[cut:]) + masker.flush()
            assert token[:16] not in out and "****" in out


def test_error_text_and_parsed_documents_are_masked(shown: tuple[str, str]) -> None:
    document, _ = shown
    url = json.loads(document)["result"]["sfdxAuthUrl"]
    token = token_of(document)
    assert token[:16] not in mask(f"login failed for {url}: invalid_grant")
    masked = mask_value(json.loads(document))
    assert masked["result"]["sfdxAuthUrl"] == "****" and token[:16] not in json.dumps(masked)
    login_result = {"accessToken": "00D000000000001!AQabc", "refreshToken": token, "username": "u@example.com"}
    assert mask_value(login_result) == {"accessToken": "****", "refreshToken": "****", "username": "u@example.com"}
