"""Choosing the database, and the password never showing: flag over environment over the SQLite default."""

from __future__ import annotations

from pathlib import Path

import pytest

from sidecar.storage.url import DatabaseUrlError, Engine, choose_database, mask_url, parse_database_url

SECRET = "s3cr:et@pw"


def test_flag_beats_environment_beats_sqlite(tmp_path: Path) -> None:
    env = {"SWEATSHOP_DATABASE_URL": "postgresql://env@db.example/team"}
    assert (
        choose_database(tmp_path, "postgres://flag@db.example/team", env).masked() == "postgres://flag@db.example/team"
    )
    assert choose_database(tmp_path, None, env).masked() == "postgresql://env@db.example/team"
    default = choose_database(tmp_path, None, {})
    assert (default.engine, default.path) == (Engine.SQLITE, tmp_path / "sidecar.db")
    assert choose_database(tmp_path, "", {"SWEATSHOP_DATABASE_URL": ""}).engine is Engine.SQLITE


@pytest.mark.parametrize(
    "url, shown",
    [
        (
            "postgresql://team:hunter2@db.example:5432/pool?sslmode=require",
            "postgresql://team:****@db.example:5432/pool?sslmode=require",
        ),
        (
            "postgres://team@/pool?host=/run/postgresql&password=hunter2&port=5433",
            "postgres://team@/pool?host=/run/postgresql&password=****&port=5433",
        ),
        ("postgresql://team@db.example/pool", "postgresql://team@db.example/pool"),
        ("postgresql://a:b:c@d@host/db", "postgresql://a:****@host/db"),
    ],
)
def test_mask_hides_the_password_and_keeps_the_rest(url: str, shown: str) -> None:
    target = parse_database_url(url)
    assert target.masked() == shown == str(target)
    assert target.url == url
    assert "hunter2" not in repr(target)


@pytest.mark.parametrize(
    "url, says",
    [
        (f"mysql://u:{SECRET}@h/db", "must start with postgresql://"),
        (f"postgresql://u:{SECRET}@h:notaport/db", "malformed"),
        (f"postgresql://u:{SECRET}@h/", "names no database"),
        (f"postgresql://u:{SECRET}@/db", "names no host"),
    ],
)
def test_bad_urls_are_refused_without_the_password(url: str, says: str) -> None:
    with pytest.raises(DatabaseUrlError) as refused:
        parse_database_url(url)
    assert says in str(refused.value)
    assert "s3cr" not in str(refused.value) and "pw" not in str(refused.value)


def test_mask_of_text_that_is_not_a_url_shows_nothing_secret() -> None:
    assert mask_url("user:pw") == "****"
