"""settings.json in every broken form: the sidecar starts (defaults) or keeps its last good settings, and says why.

Each form is tried at start and as a live edit of a running sidecar, against the real process: the answer to
`sidecar:health` names the file's problem, stderr says it once (not once per poll), no traceback is logged, and
the settings in force are never reset to the defaults or broadcast as a change.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from sidecar.settings import MAX_FILE_BYTES, load_settings
from tests.support.fakesf import FakeSf
from tests.support.harness import SidecarProcess

pytestmark = pytest.mark.anyio

GOOD_TEXT = json.dumps(
    {"orgPool": {"maxOrgs": 2, "devHub": "hub@example.com"}, "appearance": {"theme": "café"}}, ensure_ascii=False
)


def write_bytes(data: bytes) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        if path.is_dir():
            path.rmdir()
        path.write_bytes(data)

    return write


def make_directory(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.mkdir()


def make_fifo(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.mkfifo(path)


# (attack, how to break the file, a word the reason must contain)
BROKEN_FORMS: list[tuple[str, Callable[[Path], None], str]] = [
    ("latin1", write_bytes(GOOD_TEXT.encode("latin-1")), "not UTF-8"),
    ("utf16_bom", write_bytes(GOOD_TEXT.encode("utf-16")), "UTF-16"),
    ("utf16_be_bom", write_bytes(b"\xfe\xff" + GOOD_TEXT.encode("utf-16-be")), "UTF-16"),
    ("deeply_nested", write_bytes(b'{"orgPool": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"), "nests too deeply"),
    ("half_written", write_bytes(GOOD_TEXT.encode()[: len(GOOD_TEXT) // 2]), "not valid JSON"),
    ("empty", write_bytes(b""), "empty"),
    ("whitespace_only", write_bytes(b"  \n"), "empty"),
    ("not_an_object", write_bytes(b"[1, 2, 3]"), "not an object"),
    ("a_string", write_bytes(b'"orgPool"'), "not an object"),
    ("nul_bytes", write_bytes(b"\x00" * 64), "not valid JSON"),
    ("oversize", write_bytes(b'{"x": "' + b"a" * (MAX_FILE_BYTES + 1) + b'"}'), "larger than"),
    ("a_directory", make_directory, "directory"),
    ("a_fifo", make_fifo, "not a regular file"),
]
IDS = [form[0] for form in BROKEN_FORMS]


def settings_error(health: dict) -> str | None:
    for error in health["settings"]["errors"]:
        if error["key"] == "settings.json":
            return error["reason"]
    return None


@pytest.mark.parametrize("attack, breaker, word", BROKEN_FORMS, ids=IDS)
def test_settings_file_broken_reader_never_raises(tmp_path: Path, attack: str, breaker, word: str) -> None:
    path = tmp_path / "settings.json"
    breaker(path)
    fresh = load_settings(path)
    assert fresh.org_pool.maxOrgs == 4 and word in fresh.errors[0].reason, fresh.errors
    path.unlink() if not path.is_dir() else path.rmdir()
    path.write_text(GOOD_TEXT, encoding="utf-8")
    good = load_settings(path)
    breaker(path)
    kept = load_settings(path, last_good=good)
    assert kept.org_pool == good.org_pool and kept.raw == good.raw
    assert "keeping the last good settings" in kept.errors[0].reason


def test_settings_file_unreadable_permissions_keeps_the_last_good(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file: permissions cannot make settings.json unreadable here")
    path = tmp_path / "settings.json"
    path.write_text(GOOD_TEXT, encoding="utf-8")
    good = load_settings(path)
    path.chmod(0)
    kept = load_settings(path, last_good=good)
    assert kept.org_pool.maxOrgs == 2 and "permission denied" in kept.errors[0].reason


def test_settings_file_with_utf8_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD_TEXT.encode())
    settings = load_settings(path)
    assert settings.org_pool.maxOrgs == 2 and settings.errors == ()


@pytest.mark.parametrize("attack, breaker, word", BROKEN_FORMS, ids=IDS)
async def test_settings_file_broken_at_start_serves_defaults_and_says_why(
    home: Path, fake_sf: FakeSf, attack: str, breaker, word: str
) -> None:
    breaker(home / "settings.json")
    async with SidecarProcess.start(home, env=fake_sf.env) as sc:
        with anyio.fail_after(20):
            assert (await sc.call("org:status"))["maxOrgs"] == 4
            reason = settings_error(await sc.call("sidecar:health"))
    assert reason is not None and word in reason and "using the defaults" in reason, reason
    stderr = sc.stderr_text()
    assert word in stderr and "Traceback" not in stderr, stderr[-2000:]


@pytest.mark.parametrize("attack, breaker, word", BROKEN_FORMS, ids=IDS)
async def test_settings_file_broken_while_running_keeps_the_last_good_settings(
    home: Path, fake_sf: FakeSf, attack: str, breaker, word: str
) -> None:
    settings = {**json.loads(GOOD_TEXT), "orgPool": {**json.loads(GOOD_TEXT)["orgPool"], "sfPath": fake_sf.path}}
    async with SidecarProcess.start(home, settings=settings, env=fake_sf.env) as sc:
        with anyio.fail_after(30):
            assert (await sc.call("org:status"))["maxOrgs"] == 2
            assert settings_error(await sc.call("sidecar:health")) is None
            seen = len(sc.messages)
            breaker(home / "settings.json")
            while (reason := settings_error(await sc.call("sidecar:health"))) is None:
                await anyio.sleep(0.1)
            assert word in reason and "keeping the last good settings" in reason, reason
            await anyio.sleep(2.5)  # two more polls of an unchanged broken file: still one report
            assert (await sc.call("org:status"))["maxOrgs"] == 2
            health = await sc.call("sidecar:health")
            assert health["sf"]["error"] is None, health["sf"]  # sfPath kept, not reset to `sf` on PATH
            broadcasts = [m for m in sc.notifications[seen:] if m.get("method") != "terminal:output"]
            assert broadcasts == [], broadcasts
            # Repaired: the new value applies and the problem is gone.
            if (home / "settings.json").is_dir():
                (home / "settings.json").rmdir()
            else:
                (home / "settings.json").unlink()
            (home / "settings.json").write_text(
                json.dumps({**settings, "orgPool": {**settings["orgPool"], "maxOrgs": 3}})
            )
            while (await sc.call("org:status"))["maxOrgs"] != 3:
                await anyio.sleep(0.1)
            assert settings_error(await sc.call("sidecar:health")) is None
    stderr = sc.stderr_text()
    assert stderr.count(word) == 1, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
