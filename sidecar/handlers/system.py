"""`sidecar:*` channels: what the Electron side needs to trust and diagnose the process."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from sidecar import PROTOCOL_VERSION, __version__
from sidecar.errors import SfUnavailable
from sidecar.rpc import NoParams, rpc_method
from sidecar.settings import SettingsError, SettingsStore
from sidecar.storage.database import Database
from sidecar.storage.url import Engine
from sidecar.wiremodel import WireModel


class DatabaseInfo(WireModel):
    """Which database this sidecar uses: `sqlite` (the file's path) or `postgresql` (the URL, password masked)."""

    engine: str
    path: str | None
    url: str | None
    schema_version: int
    # Why writes are refused (the file was deleted or replaced under the running sidecar); null while all is well.
    error: str | None = None


class SfInfo(WireModel):
    path: str | None
    error: str | None = None


class SettingsIssue(WireModel):
    key: str
    reason: str


class SettingsInfo(WireModel):
    path: str
    errors: list[SettingsIssue]


class Health(WireModel):
    version: str
    protocol_version: str
    home: str
    database: DatabaseInfo
    sf: SfInfo
    settings: SettingsInfo


class SystemHandlers:
    def __init__(
        self,
        home: Path,
        db: Database,
        settings: SettingsStore,
        sf_path: Callable[[], Path],
        issue_sources: Iterable[Callable[[], Iterable[SettingsError]]] = (),
    ) -> None:
        self._home = home
        self._db = db
        self._settings = settings
        self._sf_path = sf_path
        # Sections parsed by their owners (the governance catalog) report their problems through these.
        self._issue_sources = list(issue_sources)

    def _database_info(self, schema_version: int) -> DatabaseInfo:
        where = self._db.describe()  # the path, or the URL with its password masked: never the password
        on_file = self._db.engine is Engine.SQLITE
        return DatabaseInfo(
            engine=self._db.engine.value,
            path=where if on_file else None,
            url=None if on_file else where,
            schema_version=schema_version,
            error=self._db.check_file(),
        )

    @rpc_method("sidecar:health", result=Health)
    async def health(self, params: NoParams) -> Health:
        """Version, paths, the `sf` in use and every settings problem, for the app's diagnostics page."""
        try:
            sf = SfInfo(path=str(self._sf_path()))
        except SfUnavailable as exc:
            sf = SfInfo(path=None, error=exc.message)
        issues = [*self._settings.current.errors]
        for source in self._issue_sources:
            issues.extend(source())
        return Health(
            version=__version__,
            protocol_version=PROTOCOL_VERSION,
            home=str(self._home),
            database=self._database_info(await self._db.schema_version()),
            sf=sf,
            settings=SettingsInfo(
                path=str(self._settings.path),
                errors=[SettingsIssue(key=e.key, reason=e.reason) for e in issues],
            ),
        )
