"""The `orgPool` section of the app's shared settings.json, read-only, re-read when the file changes.

The file belongs to the whole Electron app, so the sidecar never writes it and never refuses to start over it:
an invalid value falls back to its default and is reported (stderr and `sidecar:health`) with key and reason.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sidecar.events import Listeners

log = logging.getLogger(__name__)


# Every number has a range that makes sense for it: a value that validates as a number can still harm (an
# OverflowError from `minRemainingHours: 1e300`, a core spinning at `refreshIntervalSeconds: 1e-6`). Strict, so a
# `true` or a `"5"` is reported rather than read as 1 or 5; never NaN or infinity. The README and protocol.md list
# these bounds; `tests/hostile/test_settings_bounds.py` walks each one at its edges and beyond.
_NUMBER: dict[str, Any] = {"strict": True, "allow_inf_nan": False}

# The largest settings file read: the app's settings are a few KiB; anything this big is not one.
MAX_FILE_BYTES = 1024 * 1024


class OrgPoolSettings(BaseModel):
    """Field names are the JSON keys (camelCase) so the file, the docs and the code say the same word."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    maxOrgs: int = Field(4, ge=0, le=10_000, **_NUMBER)
    scratchDefPath: str = "config/project-scratch-def.json"
    defaultDurationDays: int = Field(7, ge=1, le=30, **_NUMBER)
    dataPlanPath: str = "data/sample-data-plan.json"
    userDefPath: str = "config/user-def.json"
    sourceDir: str = "force-app"
    permissionSets: list[str] = Field(default_factory=list)
    preWarm: bool = False
    projectDir: str | None = None
    sfPath: str | None = None
    devHub: str | None = None
    minRemainingHours: float = Field(4, ge=0, le=720, **_NUMBER)
    refreshIntervalSeconds: float = Field(60, ge=0.1, le=3600, **_NUMBER)
    stepTimeoutMinutes: float = Field(30, ge=0.01, le=1440, **_NUMBER)
    createWaitMinutes: int = Field(15, ge=1, le=120, **_NUMBER)
    # sf:run commands one agent may have running at once; more are refused with CAPACITY_REACHED (each `sf` is a
    # Node process of ~150 MB: 60 at once made the whole sidecar slow).
    sfRunConcurrency: int = Field(2, ge=1, le=16, **_NUMBER)
    # Shown as ScratchOrg.machineName on the leases this desktop holds in a shared pool (default: the host name).
    machineName: str | None = Field(None, max_length=100)
    # A shared pool's lease whose sidecar instance stopped heartbeating this long is ended by a live peer
    # (sidecar/pool/instances.py); fractions allowed so tests can use seconds. Up to a week.
    leaseTimeoutMinutes: float = Field(15, ge=0.01, le=10_080, **_NUMBER)
    # Orgs of unknown shape (registered or discovered without a definition) may serve any agent.
    reuseUnknownShapes: bool = Field(True, strict=True)
    # `org:expiring` goes to a leased org's agent this many hours before expiry, and again at 1 hour.
    expiryWarningHours: float = Field(24, ge=1, le=720, **_NUMBER)
    # org:remove deletes the org in the Dev Hub (`sf org delete scratch`) unless its deleteRemote says otherwise.
    deleteOnRemove: bool = Field(False, strict=True)


@dataclass(frozen=True)
class SettingsError:
    key: str
    reason: str


@dataclass(frozen=True)
class Settings:
    org_pool: OrgPoolSettings = field(default_factory=OrgPoolSettings)
    # The whole parsed document, so other sections (governance) are read by their own owners.
    raw: dict[str, Any] = field(default_factory=dict)
    errors: tuple[SettingsError, ...] = ()


class UnreadableSettings(Exception):
    """The file exists but is not a JSON object we can read: the caller keeps the settings it had."""


def parse_section(model: type[BaseModel], section: Any, prefix: str) -> tuple[Any, list[SettingsError]]:
    """Validate key by key, so one bad value costs only that key (it falls back to its default)."""
    errors: list[SettingsError] = []
    if section is None:
        return model(), errors
    if not isinstance(section, dict):
        return model(), [SettingsError(prefix, f"expected an object, got {type(section).__name__}")]
    good: dict[str, Any] = {}
    for key, value in section.items():
        if key not in model.model_fields:
            errors.append(SettingsError(f"{prefix}.{key}", "unknown key (ignored)"))
            continue
        try:
            model.model_validate({key: value})
        except ValidationError as exc:
            reason = "; ".join(e["msg"] for e in exc.errors())
            errors.append(SettingsError(f"{prefix}.{key}", f"{reason} (got {_shown(value)}; using the default)"))
            continue
        except RecursionError:
            errors.append(SettingsError(f"{prefix}.{key}", "nested too deeply (using the default)"))
            continue
        good[key] = value
    return model.model_validate(good), errors


def _shown(value: Any) -> str:
    """The offending value as a person reads it, cut short: a 1 MiB string must not become a 1 MiB log line."""
    try:
        text = repr(value)
    except RecursionError:
        text = "(nested too deeply to show)"
    return text if len(text) <= 80 else text[:77] + "..."


def read_document(path: Path) -> dict[str, Any] | None:
    """The parsed file, None when there is no file; UnreadableSettings (with the reason) for every other failure.

    One place decides what "readable" means, so start-up and every reload treat a broken file the same way.
    """
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise UnreadableSettings("is a directory, not a file")
        if not stat.S_ISREG(mode):  # a FIFO would block the read forever
            raise UnreadableSettings("is not a regular file")
        with open(path, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return None
    except PermissionError:
        raise UnreadableSettings("cannot be read: permission denied") from None
    except OSError as exc:
        raise UnreadableSettings(f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableSettings(f"is larger than {MAX_FILE_BYTES // 1024} KiB")
    if not data.strip():
        raise UnreadableSettings("is empty (perhaps being saved)")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnreadableSettings("is UTF-16 encoded; save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")  # a UTF-8 byte order mark, as some Windows editors write, is fine
    except UnicodeDecodeError as exc:
        raise UnreadableSettings(
            f"is not UTF-8 (byte {exc.start} is 0x{data[exc.start]:02x}); save it as UTF-8"
        ) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableSettings(f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise UnreadableSettings("nests too deeply to be settings") from None
    if not isinstance(document, dict):
        raise UnreadableSettings(f"top level is {type(document).__name__}, not an object")
    return document


def load_settings(path: Path, last_good: Settings | None = None) -> Settings:
    """The settings in `path`; an unreadable file keeps `last_good` (defaults when none) and says why.

    Keeping, not resetting: a half-written file (the app saving it) must not reset every setting for a moment
    and tell every listener so.
    """
    try:
        raw = read_document(path)
    except UnreadableSettings as exc:
        kept = last_good or Settings()
        what = "keeping the last good settings" if last_good is not None else "using the defaults"
        earlier = tuple(e for e in kept.errors if e.key != "settings.json")
        return Settings(kept.org_pool, kept.raw, (SettingsError("settings.json", f"{exc}; {what}"), *earlier))
    if raw is None:
        return Settings()
    org_pool, errors = parse_section(OrgPoolSettings, raw.get("orgPool"), "orgPool")
    return Settings(org_pool=org_pool, raw=raw, errors=tuple(errors))


Listener = Callable[[Settings], Awaitable[None]]


class SettingsStore:
    """Holds the current settings; `watch()` polls the file's stat and reloads on change.

    Polling a stat once a second costs nothing measurable and needs no platform watcher; the Electron app writes
    the file rarely and a person expects the change within a moment, not instantly.
    """

    def __init__(self, path: Path, poll_seconds: float = 1.0) -> None:
        self.path = path
        self.poll_seconds = poll_seconds
        self._events: Listeners[Settings] = Listeners("settings")
        self._stamp = self._stat()
        self.current = load_settings(path)
        self._report(self.current)

    def _stat(self) -> tuple[int, ...] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        # The inode too: an editor that saves by rename can keep size and mtime (coarse clocks) and change the file.
        return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_mode)

    @staticmethod
    def _report(settings: Settings) -> None:
        for err in settings.errors:
            log.warning("settings: %s: %s", err.key, err.reason)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self._events.subscribe(listener)

    async def reload_if_changed(self) -> bool:
        stamp = self._stat()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        previous = self.current
        self.current = load_settings(self.path, last_good=previous)
        self._report(self.current)
        if self.current.org_pool == previous.org_pool and self.current.raw == previous.raw:
            return False  # unreadable (kept), or saved unchanged: nothing for the listeners to apply
        log.info("settings reloaded from %s", self.path)
        await self._events.publish(self.current)
        return True

    async def watch(self) -> None:
        while True:
            await anyio.sleep(self.poll_seconds)
            try:
                await self.reload_if_changed()
            except Exception:  # a listener's failure must not stop future reloads
                log.exception("settings reload failed")
