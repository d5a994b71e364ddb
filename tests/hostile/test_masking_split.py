"""Secrets split across two reads of a line longer than 8 KiB are masked: every shape, every split position.

The attack (issue 8, item 14): `...si` + `d=SECRET` and `...00D000000000001` + `!AQSECRET` arrived in two reads of
a line longer than the masker's 8 KiB hold, and the line was let through in two pieces, each masked alone. The
last test runs the attack through the real process: `sf:run` of an `sf` that prints the split line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import pytest

from sidecar.provisioning.masking import MASK, TOO_LONG, LineMasker, mask
from sidecar.provisioning.terminal import Terminal
from tests.support.harness import SidecarProcess

pytestmark = pytest.mark.anyio

SECRET = "AQ4AQK9d8hW.4sV_qjJ3ZxLkLp0rT1uVyWbN2mQ"
# Every secret shape the masker knows, as a line fragment carrying SECRET (or a part of it).
SHAPES = {
    "frontdoor": f"https://x.my.salesforce.com/secur/frontdoor.jsp?otp={SECRET}&startURL=%2F",
    "sid_param": f"https://x.example.com/cb?sid={SECRET}&x=1",
    "otp_param": f"?otp={SECRET}",
    "access_token_param": f"?access_token={SECRET}&y",
    "refresh_token_param": f"&refresh_token={SECRET}",
    "oauth_token_param": f"?oauth_token={SECRET}",
    "session_id_param": f"?session_id={SECRET}",
    "org_id_15_token": f"00D000000000001!{SECRET}",
    "org_id_18_token": f"00D000000000001AAA!{SECRET}",
    "force_url": f"force://PlatformCLI::{SECRET}@x.my.salesforce.com",
    "bearer": f"Authorization: Bearer {SECRET}",
    "json_access_token": f'{{"accessToken": "{SECRET}"}}',
    "json_password": f'"password" : "{SECRET}"',
    "json_sfdx_auth_url": f'"sfdxAuthUrl":"{SECRET}"',
}
# Text before the fragment, long enough that the line outgrows the hold: with spaces, and one unbroken run.
PADS = {"words": "Deploying metadata " * 500 + "url ", "one_run": "=" * 9000 + " "}


def feed_in_two(text: str, at: int) -> str:
    masker = LineMasker()
    return masker.feed(text[:at]) + masker.feed(text[at:]) + masker.flush()


@pytest.mark.parametrize("pad", sorted(PADS))
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_masking_split_at_every_position_of_every_shape(shape: str, pad: str) -> None:
    fragment = SHAPES[shape]
    line = PADS[pad] + fragment + " and after\n"
    whole = mask(line)
    assert SECRET not in whole and MASK in whole  # the shape itself is one the masker knows
    start = len(PADS[pad])
    for at in range(start - 2, start + len(fragment) + 2):
        out = feed_in_two(line, at)
        assert SECRET[:6] not in out, (shape, pad, at)
        assert out == whole, (shape, pad, at)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_masking_split_across_many_small_reads(shape: str) -> None:
    line = PADS["words"] + SHAPES[shape] + " tail\n"
    masker = LineMasker()
    out = "".join(masker.feed(line[i : i + 7]) for i in range(0, len(line), 7)) + masker.flush()
    assert out == mask(line)


def test_masking_issue_examples() -> None:
    pad = "x" * 9000 + " "
    assert "SECRET" not in feed_in_two(pad + "sid=SECRET tail\n", len(pad) + 2)
    assert "AQSECRET" not in feed_in_two(pad + "00D000000000001!AQSECRET tail\n", len(pad) + 15)


def test_masking_a_token_longer_than_the_hold_is_hidden_whole() -> None:
    masker = LineMasker()
    out = masker.feed("x sid=" + "A" * 70_000)
    out += masker.feed("B" * 100_000)
    out += masker.feed("C end\n") + masker.flush()
    assert out == "x " + TOO_LONG + " end\n"


def test_masking_memory_stays_bounded_for_an_endless_line() -> None:
    masker = LineMasker()
    for _ in range(200):
        masker.feed("word " * 2000)
        assert len(masker._pending) < LineMasker.MAX_HOLD


async def test_masking_split_through_the_terminal_section() -> None:
    shown: list[str] = []

    async def emit(stream: str, text: str) -> None:
        shown.append(text)

    section = Terminal(emit).section()
    line = PADS["words"] + SHAPES["org_id_15_token"] + "\n"
    cut = len(PADS["words"]) + 15
    await section.write("stdout", line[:cut])
    await section.write("stdout", line[cut:])
    await section.close()
    assert "".join(shown) == mask(line)


SPLIT_PRINTER = """
import sys, time
pad = "Deploying metadata " * 500 + "url?"
sys.stdout.write(pad + "si"); sys.stdout.flush(); time.sleep(0.3)
sys.stdout.write("d=SPLITSECRET1 and 00D000000000001"); sys.stdout.flush(); time.sleep(0.3)
sys.stdout.write("!AQSPLITSECRET2 done\\n"); sys.stdout.flush()
"""


async def test_masking_split_over_stdio_sf_run(home: Path, tmp_path: Path) -> None:
    sf = tmp_path / "sf"
    sf.write_text(f"#!{sys.executable}\n{SPLIT_PRINTER}")
    sf.chmod(0o755)
    async with SidecarProcess.start(home, settings={"orgPool": {"sfPath": str(sf)}}) as sc:
        with anyio.fail_after(30):
            await sc.call("org:register", "qa1")
            await sc.call("org:claim", "agent-1")
            done = await sc.call("sf:run", {"agentId": "agent-1", "args": ["data", "query"]})
            assert done["exitCode"] == 0
    shown = "".join(m["params"]["data"] for m in sc.notifications if m["method"] == "terminal:output")
    assert "done\n" in shown
    assert "SPLITSECRET1" not in shown and "SPLITSECRET2" not in shown, shown[-200:]
    assert "SPLITSECRET" not in json.dumps(sc.messages)
