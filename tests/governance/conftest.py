"""The governance scenarios run on both engines: the `database_target` fixture (and what it needs) for this folder."""

from tests.support.postgres import database, database_target, postgres_server, postgres_url  # noqa: F401
