"""The `orgPool` section of the app's shared settings.json, read-only, re-read when the file changes.

The file belongs to the whole Electron app, so the sidecar never writes it and never refuses to start over it:
an invalid value falls back to its default and is reported (stderr and `sidecar:health`) with key and reason.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sidecar.events import Listeners

log = logging.getLogger(__name__)


class OrgPoolSettings(BaseModel):
    """Field names are the JSON keys (camelCase) so the file, the docs and the code say the same word."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    maxOrgs: int = Field(4, ge=0, le=10_000)
    scratchDefPath: str = "config/project-scratch-def.json"
    defaultDurationDays: int = Field(7, ge=1, le=30)
    dataPlanPath: str = "data/sample-data-plan.json"
    userDefPath: str = "config/user-def.json"
    sourceDir: str = "force-app"
    permissionSets: list[str] = Field(default_factory=list)
    preWarm: bool = False
    projectDir: str | None = None
    sfPath: str | None = None
    devHub: str | None = None
    minRemainingHours: float = Field(4, ge=0)
    refreshIntervalSeconds: float = Field(60, gt=0)
    stepTimeoutMinutes: float = Field(30, gt=0)
    createWaitMinutes: int = Field(15, ge=1, le=120)
    # Orgs of unknown shape (registered or discovered without a definition) may serve any agent.
    reuseUnknownShapes: bool = True
    # `org:expiring` goes to a leased org's agent this many hours before expiry, and again at 1 hour.
    expiryWarningHours: float = Field(24, gt=0, le=24 * 30)
    # org:remove deletes the org in the Dev Hub (`sf org delete scratch`) unless its deleteRemote says otherwise.
    deleteOnRemove: bool = False


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
            errors.append(SettingsError(f"{prefix}.{key}", f"{reason} (got {value!r}; using the default)"))
            continue
        good[key] = value
    return model.model_validate(good), errors


def load_settings(path: Path) -> Settings:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        return Settings(errors=(SettingsError("settings.json", f"unreadable: {exc}"),))
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        return Settings(errors=(SettingsError("settings.json", f"not valid JSON: {exc}; using defaults"),))
    if not isinstance(raw, dict):
        return Settings(errors=(SettingsError("settings.json", "top level is not an object; using defaults"),))
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

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

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
        self.current = load_settings(self.path)
        log.info("settings reloaded from %s", self.path)
        self._report(self.current)
        await self._events.publish(self.current)
        return True

    async def watch(self) -> None:
        while True:
            await anyio.sleep(self.poll_seconds)
            try:
                await self.reload_if_changed()
            except Exception:  # a listener's failure must not stop future reloads
                log.exception("settings reload failed")
