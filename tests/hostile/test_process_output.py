"""An `sf` that floods stdout or dies by a signal, against the real sidecar: a clear SF_FAILED, never INTERNAL.

`orgPool.sfPath` points at a small script standing in for a misbehaving CLI; `org:discover` runs its
`org list --json`, whose stdout the sidecar captures.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import anyio
import pytest

from sidecar.sf.process import MAX_CAPTURE_BYTES, run_process, signal_name
from tests.support.harness import RpcError, SidecarProcess

pytestmark = pytest.mark.anyio


def script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "sf"
    path.write_text(f"#!{sys.executable}\nimport os, signal, sys\n{body}\n")
    path.chmod(0o755)
    return str(path)


FLOOD = """
chunk = b"x" * (1024 * 1024)
try:
    for _ in range(100):
        sys.stdout.buffer.write(chunk)
    sys.stdout.flush()
except BrokenPipeError:
    pass
"""


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


async def test_process_sf_printing_100_mb_is_sf_failed_not_internal(home: Path, tmp_path: Path) -> None:
    sf = script(tmp_path, FLOOD)
    async with SidecarProcess.start(home, settings={"orgPool": {"sfPath": sf}}) as sc:
        with anyio.fail_after(60):
            await sc.call("org:status")
            before = peak_rss_mib(sc.pid)
            with pytest.raises(RpcError) as caught:
                await sc.call("org:discover")
            peak = peak_rss_mib(sc.pid)
            assert (await sc.call("org:status"))["total"] == 0  # still serving
    error = caught.value
    assert error.kind == "SF_FAILED", error.data
    assert error.data["name"] == "OutputTooLarge" and "32 MiB" in error.message, error.message
    # Kept at most the 32 MiB bound (plus the bytes object made of it), not the 100 MB printed.
    assert peak - before < 3 * MAX_CAPTURE_BYTES / 2**20, (before, peak)
    assert "ExceptionGroup" not in sc.stderr_text()


async def test_process_capture_just_under_the_bound_is_kept(tmp_path: Path) -> None:
    sf = script(tmp_path, f"sys.stdout.buffer.write(b'y' * {MAX_CAPTURE_BYTES})")
    with anyio.fail_after(30):
        done = await run_process([sf], capture_stdout=True)
    assert done.exit_code == 0 and len(done.stdout) == MAX_CAPTURE_BYTES


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGSEGV, signal.SIGINT])
async def test_process_sf_killed_by_a_signal_names_the_signal(home: Path, tmp_path: Path, sig: signal.Signals) -> None:
    sf = script(
        tmp_path,
        f'sys.stdout.write("{{\\"status\\": 0, "); sys.stdout.flush()\n'
        f"if {int(sig)} != signal.SIGKILL: signal.signal({int(sig)}, signal.SIG_DFL)\n"
        f"os.kill(os.getpid(), {int(sig)})",
    )
    async with SidecarProcess.start(home, settings={"orgPool": {"sfPath": sf}}) as sc:
        with anyio.fail_after(30):
            with pytest.raises(RpcError) as caught:
                await sc.call("org:discover")
    error = caught.value
    assert error.kind == "SF_FAILED", error.data
    assert sig.name in error.message and error.data["signal"] == sig.name, error.message


def test_process_signal_name_of_exit_codes() -> None:
    assert signal_name(0) is None and signal_name(1) is None
    assert signal_name(-9) == "SIGKILL" and signal_name(-15) == "SIGTERM"
    assert signal_name(-200) == "signal 200"
