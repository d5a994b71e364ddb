"""An org made on one desktop works on another: capture its auth URL when it enters a shared pool, and log another
desktop's CLI in with it before that desktop's agent uses the org.

Each machine's `sf` keeps its own auth store, so an org created or discovered on machine A is unknown to the CLI on
machine B. When an org enters a shared pool (registration, discovery, provisioning's and pre-warm's creations, all
through PoolService), the sidecar that brings it records itself as the org's origin and, holding a team key, the
org's auth URL (`sf org auth show-sfdx-auth-url --target-org <alias> --no-prompt --json`; `org display --verbose`
redacts it) sealed with that key (sidecar/pool/teamkey.py), in the transaction that inserts the org.

When an org whose origin is another instance is handed to an agent here (provisioning's org step, `sf:run`), this
machine's CLI is logged in first: `sf org login sfdx-url --sfdx-url-file <file> --alias <alias> --json`, the file
created 0600 in a fresh 0700 directory under `<home>/handover/` and removed as soon as the command ends (never
`--sfdx-url-stdin`: the real CLI gives stdin 10 ms). Whether the CLI knows the org is decided by that origin, not by
asking the CLI (`sf org list` or `org display` would cost a CLI start as long as the login itself): an org this
instance brought in is known here, one it logged in to since it started is too, any other is logged in once per
process (logging in again to an org the CLI knows only refreshes its authorization).

The URL lives in memory only between the CLI's stdout and the sealing, or between opening and the private file: it
is never logged, streamed (the capture's stdout is not a stream, the login's output carries tokens and is never
shown either), sent or put in an error (every CLI message is masked first).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

import anyio

from sidecar.errors import OrgNotAuthorized, SfFailed, SidecarError
from sidecar.pool import authurl_store
from sidecar.pool.authurl_store import OrgOrigin
from sidecar.pool.holder import LeaseHolder
from sidecar.pool.models import ScratchOrg
from sidecar.pool.teamkey import ENV_VAR, SETTING, TeamKey, TeamKeyError
from sidecar.provisioning.masking import mask
from sidecar.sf.envelope import Envelope
from sidecar.sf.process import OutputSink
from sidecar.storage.connection import Connection
from sidecar.storage.database import Database

log = logging.getLogger(__name__)

HANDOVER_DIR = "handover"
URL_FILE = "auth-url"  # not *.json: the CLI would read a file so named as a JSON document
SHOW_ARGS = ("org", "auth", "show-sfdx-auth-url")
LOGIN_ARGS = ("org", "login", "sfdx-url")
CAPTURE_TIMEOUT_SECONDS = 120.0
KEY_ID_SECONDS = 5.0


class JsonRunner(Protocol):
    """What the hand-over needs of the CLI (sidecar.sf.client.SfClient)."""

    async def run_json(
        self,
        args: Sequence[str],
        *,
        sink: OutputSink | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the command's budget
        cwd: Path | None = None,
    ) -> Envelope: ...


class OrgCredentials:
    def __init__(
        self,
        db: Database,
        cli: JsonRunner,
        holder: LeaseHolder,
        team_key: Callable[[], TeamKey | None],
        home: Path,
        timeout: Callable[[], float] = lambda: 30 * 60.0,
    ) -> None:
        self._db = db
        self._cli = cli
        self._holder = holder
        self._team_key = team_key
        self._dir = home / HANDOVER_DIR
        self._timeout = timeout
        self._logged_in: set[str] = set()
        self._login_lock = anyio.Lock()  # two sf:run of one agent at once log in once
        self._key_id: tuple[float, str] | None = None  # (when read, the id) for key_id()
        self.sweep()

    # -- the key ------------------------------------------------------------------------------------------------

    def key(self) -> TeamKey | None:
        """The team key in force now (the setting is re-read each time); TeamKeyError when it cannot be used."""
        return self._team_key()

    def describe(self) -> str:
        """One line for the start-up log: which key (by id, never the key), or why none."""
        try:
            key = self.key()
        except TeamKeyError as exc:
            return f"team key refused: {exc.message}"
        if key is None:
            return (
                f"no team key ({ENV_VAR} or {SETTING}): orgs made on other desktops cannot be used here, and orgs"
                " made here cannot be used on other desktops"
            )
        return f"team key {key.key_id} from {key.source}"

    def _usable_key(self) -> TeamKey | None:
        try:
            return self.key()
        except TeamKeyError as exc:
            log.error("%s; org auth URLs are not captured until it is fixed", exc.message)
            return None

    def key_id(self) -> str:
        """The id of the usable team key in force ("" when there is none): which sealed URLs this machine opens.

        Every claim of a shared pool ranks by it, so it is read again (env, key file, HMAC) at most every
        KEY_ID_SECONDS, not per claim: a key changed a moment ago only reorders a claim or two, and the hand-over
        itself always reads the key afresh."""
        now = time.monotonic()
        if self._key_id is None or now - self._key_id[0] >= KEY_ID_SECONDS:
            try:
                key = self.key()
            except TeamKeyError:  # said at start (describe) and at each capture; a claim only ranks by it
                key = None
            self._key_id = (now, key.key_id if key is not None else "")
        return self._key_id[1]

    # -- capture (machine A) ------------------------------------------------------------------------------------

    @property
    def shared(self) -> bool:
        return self._holder.shared

    def capturing(self) -> bool:
        """Whether an org entering the pool now has its auth URL captured: a shared pool and a usable team key."""
        return self.shared and self._usable_key() is not None

    async def capture(self, alias: str) -> str | None:
        """The org's auth URL from this machine's CLI, to seal in the insert's transaction; None when there is no
        key, or the CLI cannot show it (the org then works on this machine only: logged, masked)."""
        if not self.capturing():
            return None
        try:
            # Bounded on its own: registration waits for it (an org must never be created and not recorded).
            envelope = await self._cli.run_json(
                [*SHOW_ARGS, "--target-org", alias, "--no-prompt"],
                timeout=min(self._timeout(), CAPTURE_TIMEOUT_SECONDS),
            )
        except SidecarError as exc:
            log.warning(
                "the auth URL of org %s could not be captured, so other desktops cannot use it: %s",
                alias,
                mask(exc.message),
            )
            return None
        result = envelope.result if isinstance(envelope.result, dict) else {}
        url = result.get("sfdxAuthUrl")
        if not isinstance(url, str) or not url.startswith("force://"):
            log.warning("`sf org auth show-sfdx-auth-url` returned no force:// URL for org %s", alias)
            return None
        return url

    async def record(self, conn: Connection, org_id: str, auth_url: str | None, now: datetime) -> None:
        """In the transaction that inserts the org: this instance is its origin, with its URL sealed (if any)."""
        if not self.shared:
            return
        key = self._usable_key() if auth_url else None
        sealed = key.seal(org_id, auth_url) if key is not None and auth_url else None
        await authurl_store.put(conn, org_id, self._holder.instance_id, self._holder.machine_name, sealed, now)

    # -- hand-over (machine B) ----------------------------------------------------------------------------------

    async def hand_over(
        self, org: ScratchOrg, sink: OutputSink | None = None, cwd: Path | None = None
    ) -> OrgOrigin | None:
        """Log this machine's CLI in to `org` when another instance brought it into the pool; the origin it logged
        in from, or None when nothing had to be done. OrgNotAuthorized (naming the setting) when it cannot."""
        if not self.shared or org.id in self._logged_in:
            return None
        async with self._login_lock:
            if org.id in self._logged_in:
                return None
            return await self._hand_over(org, sink, cwd)

    async def _hand_over(self, org: ScratchOrg, sink: OutputSink | None, cwd: Path | None) -> OrgOrigin | None:
        origin = await authurl_store.origin_of(self._db.reader, org.id)
        if origin is None or origin.instance == self._holder.instance_id:
            return None  # made here (or before origins were recorded): this machine's CLI knows it
        where = f"org {org.alias!r} was made on another desktop ({origin.machine}), so this machine's Salesforce CLI"
        if origin.sealed is None:
            raise OrgNotAuthorized(
                f"{where} does not know it, and that desktop stored no auth URL for it (it had no team key, or its"
                f" CLI could not show the URL): set {ENV_VAR} or {SETTING} to the same team key on every desktop,"
                " then register the org again there",
                reason="noAuthUrl",
                orgId=org.id,
                machineName=origin.machine,
            )
        key = self.key()
        if key is None:
            raise OrgNotAuthorized(
                f"{where} does not know it; its stored auth URL can be opened only with the team key: set"
                f" {ENV_VAR} or {SETTING} (the same key as the other desktops)",
                reason="noTeamKey",
                orgId=org.id,
                machineName=origin.machine,
            )
        await self._login(org, key.open(org.id, origin.sealed), sink, cwd)
        self._logged_in.add(org.id)
        log.info("logged the CLI in to org %s, made on %s, with its stored auth URL", org.alias, origin.machine)
        return origin

    async def _login(self, org: ScratchOrg, auth_url: str, sink: OutputSink | None, cwd: Path | None) -> None:
        with private_file(self._dir, auth_url) as path:
            try:
                envelope = await self._cli.run_json(
                    [*LOGIN_ARGS, "--sfdx-url-file", str(path), "--alias", org.alias],
                    sink=sink,
                    timeout=self._timeout(),
                    cwd=cwd,
                )
            except SfFailed as exc:
                raise OrgNotAuthorized(
                    mask(f"the Salesforce CLI could not be logged in to org {org.alias!r}: {exc.message}"),
                    reason="loginFailed",
                    orgId=org.id,
                    name=exc.data.get("name"),
                ) from None
        result = envelope.result if isinstance(envelope.result, dict) else {}
        username = result.get("username")
        if org.username and username != org.username:
            raise OrgNotAuthorized(
                f"the stored auth URL of org {org.alias!r} logged the CLI in as another user, not {org.username}",
                reason="loginFailed",
                orgId=org.id,
            )

    # -- the private files ----------------------------------------------------------------------------------------

    def sweep(self) -> None:
        """Remove what a process killed in the middle of a login left behind (a file holding a credential); a live
        process's login in progress (a second sidecar on this home) is left alone, by the pid in its name."""
        if not self._dir.is_dir():
            return
        for entry in self._dir.iterdir():
            pid = entry.name.split("-")[1] if entry.name.startswith("login-") else ""
            if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
                continue
            with contextlib.suppress(OSError):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def private_file(parent: Path, content: str) -> Iterator[Path]:
    """`content` in a file only this user can read (0600, O_EXCL, no symlink followed), in a fresh 0700 directory
    under `parent` (itself 0700); both removed when the block ends, however it ends."""
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(parent)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise OrgNotAuthorized(f"{parent} is not a directory of this sidecar's own", reason="loginFailed")
    if os.name == "posix" and stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(parent, 0o700)
    # 0700, a name nobody could guess, with this process's pid (so a peer's sweep leaves a login in progress alone).
    directory = Path(tempfile.mkdtemp(prefix=f"login-{os.getpid()}-", dir=parent))
    path = directory / URL_FILE
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        shutil.rmtree(directory, ignore_errors=True)
