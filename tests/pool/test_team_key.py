"""The team key: its accepted spellings, its file's permissions, and AES-GCM sealing of an auth URL bound to its org
(round trip, a fresh nonce each time, another key, another org's row, a changed byte)."""

from __future__ import annotations

import base64
import dataclasses
import os
from pathlib import Path

import pytest

from sidecar.errors import ErrorCode, OrgNotAuthorized
from sidecar.pool.handover import private_file
from sidecar.pool.teamkey import ENV_VAR, SETTING, TeamKey, TeamKeyError, load_team_key, parse_key, read_key_file

URL = (
    "force://PlatformCLI::5Aep861SECRETrefreshTOKENvalue.eyJ1c2VybmFtZSI6ICJ0QGV4YW1wbGUuY29tIn0@qa1.my.salesforce.com"
)
RAW = bytes(range(32))


def key(raw: bytes = RAW) -> TeamKey:
    return TeamKey(raw, "test")


def test_a_sealed_url_opens_with_the_same_key_and_org_and_each_sealing_has_its_own_nonce() -> None:
    first, second = key().seal("org_1", URL), key().seal("org_1", URL)
    assert key().open("org_1", first) == URL and key().open("org_1", second) == URL
    assert first.nonce != second.nonce and first.ciphertext != second.ciphertext
    assert len(base64.b64decode(first.nonce)) == 12
    assert first.key_id == key().key_id and key().key_id not in (RAW.hex(), base64.b64encode(RAW).decode())


def test_another_key_is_refused_naming_the_settings() -> None:
    sealed = key().seal("org_1", URL)
    with pytest.raises(OrgNotAuthorized) as caught:
        key(bytes(32)).open("org_1", sealed)
    assert caught.value.code is ErrorCode.ORG_NOT_AUTHORIZED and caught.value.data["reason"] == "wrongTeamKey"
    assert ENV_VAR in caught.value.message and SETTING in caught.value.message
    assert "SECRET" not in caught.value.message


def test_a_ciphertext_moved_to_another_org_or_altered_does_not_open() -> None:
    sealed = key().seal("org_1", URL)
    with pytest.raises(OrgNotAuthorized) as moved:
        key().open("org_2", sealed)  # the org id is the associated data
    assert moved.value.data["reason"] == "damagedAuthUrl"
    data = bytearray(base64.b64decode(sealed.ciphertext))
    data[3] ^= 1
    altered = dataclasses.replace(sealed, ciphertext=base64.b64encode(bytes(data)).decode())
    with pytest.raises(OrgNotAuthorized) as changed:
        key().open("org_1", altered)
    assert changed.value.data["reason"] == "damagedAuthUrl"


@pytest.mark.parametrize(
    "text",
    [
        base64.b64encode(RAW).decode(),
        base64.urlsafe_b64encode(RAW).decode().rstrip("="),
        RAW.hex(),
        RAW.hex().upper(),
        "  " + base64.b64encode(RAW).decode() + "\n",
    ],
)
def test_the_key_is_32_bytes_in_base64_or_hex(text: str) -> None:
    assert parse_key(text, "test").secret == RAW


@pytest.mark.parametrize("text", ["", "short", base64.b64encode(bytes(16)).decode(), "zz" * 32, "é" * 44])
def test_anything_else_is_refused_without_repeating_it(text: str) -> None:
    with pytest.raises(TeamKeyError) as caught:
        parse_key(text, ENV_VAR)
    assert ENV_VAR in caught.value.message and "openssl rand -base64 32" in caught.value.message
    assert caught.value.data["reason"] == "badTeamKey"
    if text:
        assert text not in caught.value.message


def write_key(path: Path, mode: int) -> Path:
    path.write_text(base64.b64encode(RAW).decode() + "\n")
    os.chmod(path, mode)
    return path


def test_a_key_file_readable_only_by_its_owner_is_read(tmp_path: Path) -> None:
    path = write_key(tmp_path / "team.key", 0o600)
    got = read_key_file(str(path))
    assert got.secret == RAW and str(path) in got.source and SETTING in got.source
    assert write_key(tmp_path / "ro.key", 0o400) and read_key_file(str(tmp_path / "ro.key")).secret == RAW


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o666])
def test_a_key_file_others_can_read_is_refused_naming_it(tmp_path: Path, mode: int) -> None:
    path = write_key(tmp_path / "team.key", mode)
    with pytest.raises(TeamKeyError) as caught:
        read_key_file(str(path))
    assert str(path) in caught.value.message and SETTING in caught.value.message
    assert f"{mode:04o}" in caught.value.message and "chmod 600" in caught.value.message


def test_a_missing_file_a_directory_and_a_huge_file_are_refused(tmp_path: Path) -> None:
    for path, words in (
        (tmp_path / "nope.key", "does not exist"),
        (tmp_path, "not a regular file"),
    ):
        with pytest.raises(TeamKeyError, match=words):
            read_key_file(str(path))
    big = tmp_path / "big.key"
    big.write_text("A" * 5000)
    os.chmod(big, 0o600)
    with pytest.raises(TeamKeyError, match="larger than"):
        read_key_file(str(big))


def test_the_environment_wins_over_the_file_and_blank_means_unset(tmp_path: Path) -> None:
    path = write_key(tmp_path / "team.key", 0o600)
    other = base64.b64encode(bytes(32)).decode()
    from_env = load_team_key({ENV_VAR: other}, str(path))
    assert from_env is not None and from_env.secret == bytes(32) and from_env.source == ENV_VAR
    from_file = load_team_key({ENV_VAR: "  "}, str(path))
    assert from_file is not None and from_file.secret == RAW
    assert load_team_key({}, None) is None


def test_the_login_file_is_private_and_gone_afterwards_even_after_an_error(tmp_path: Path) -> None:
    parent = tmp_path / "handover"
    with private_file(parent, URL) as path:
        assert path.read_text() == URL
        assert os.stat(path).st_mode & 0o777 == 0o600
        assert os.stat(path.parent).st_mode & 0o777 == 0o700 and os.stat(parent).st_mode & 0o777 == 0o700
        seen = path
    assert not seen.exists() and list(parent.iterdir()) == []
    with pytest.raises(RuntimeError), private_file(parent, URL) as path:
        seen = path
        raise RuntimeError("the login failed")
    assert not seen.exists() and list(parent.iterdir()) == []


def test_the_key_file_setting_is_a_bounded_path_and_a_bad_one_falls_back_alone() -> None:
    from sidecar.settings import OrgPoolSettings, parse_section

    good, errors = parse_section(OrgPoolSettings, {"teamKeyFile": "~/.sweatshop/team.key", "maxOrgs": 3}, "orgPool")
    assert good.teamKeyFile == "~/.sweatshop/team.key" and errors == []
    for bad in ("", "x" * 4097, 5, True):
        settings, errors = parse_section(OrgPoolSettings, {"teamKeyFile": bad, "maxOrgs": 3}, "orgPool")
        assert settings.teamKeyFile is None and settings.maxOrgs == 3
        assert [e.key for e in errors] == ["orgPool.teamKeyFile"]


def test_a_start_sweeps_what_a_killed_login_left_but_not_a_live_peers_login(tmp_path: Path) -> None:
    import subprocess
    import sys

    from sidecar.pool.handover import HANDOVER_DIR, OrgCredentials
    from sidecar.pool.holder import LeaseHolder

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    dead_pid = int(gone.stdout)
    folder = tmp_path / HANDOVER_DIR
    (folder / f"login-{dead_pid}-abc").mkdir(parents=True)
    (folder / f"login-{dead_pid}-abc" / "auth-url").write_text(URL)
    (folder / "login-1-live").mkdir()  # pid 1 is always alive: a peer sidecar's login in progress
    (folder / "stray").write_text(URL)
    OrgCredentials(None, None, LeaseHolder("inst_x"), lambda: None, tmp_path)  # type: ignore[arg-type]
    assert sorted(p.name for p in folder.iterdir()) == ["login-1-live"]
