"""Schema migrations: the migrated schema equals the models, on SQLite and PostgreSQL; the
engine refuses a schema it cannot use, with the command to run."""

from __future__ import annotations

import re
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner

from mediation_flow import Engine, SchemaMismatch
from mediation_flow.cli import main
from mediation_flow.storage import schema
from mediation_flow.storage.repository import Store
from mediation_flow.storage.tables import metadata
from tests.conftest import at, make_intake


def test_the_migrations_build_exactly_the_models_schema(db_url: str) -> None:
    store = Store(db_url)
    try:
        with store.migrating() as conn:
            schema.upgrade(conn, "head")
        with store.reading() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "version_table": schema.VERSION_TABLE}
            )
            assert compare_metadata(context, metadata) == []
            assert schema.current_revision(conn) == schema.head_revision()
        with store.migrating() as conn:
            schema.downgrade(conn, "base")
        with store.reading() as conn:
            from sqlalchemy import inspect

            assert [
                t
                for t in inspect(conn).get_table_names()
                if t.startswith("mf_") and t != schema.VERSION_TABLE
            ] == []
    finally:
        store.dispose()


def test_a_migrated_database_runs_cases(db_url: str) -> None:
    store = Store(db_url)
    with store.migrating() as conn:
        schema.upgrade(conn, "head")
    store.dispose()
    with Engine(db_url, create_schema=False) as engine:
        case = engine.open_case(make_intake(), at=at(2025, 3, 3))
        assert engine.fire(case.id, "refer_to_negotiation", at=at(2025, 3, 3)).version == 2


def test_an_empty_database_is_refused_without_create_schema(tmp_path: Any) -> None:
    with pytest.raises(SchemaMismatch, match="run 'mediation-flow --db URL db upgrade'"):
        Engine(f"sqlite:///{tmp_path / 'empty.db'}", create_schema=False)


def test_an_older_schema_is_refused_with_the_command_to_run(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    Engine(url).close()
    current = schema.head_revision()
    # A release whose head is a later revision than the database's.
    monkeypatch.setattr(schema, "head_revision", lambda: "0099")
    with pytest.raises(
        SchemaMismatch,
        match="older than this release needs; run 'mediation-flow --db URL db upgrade'",
    ) as info:
        Engine(url)
    assert (info.value.current, info.value.needed) == (current, "0099")


def test_a_database_of_the_first_release_upgrades_and_keeps_its_cases(db_url: str) -> None:
    store = Store(db_url)
    with store.migrating() as conn:
        schema.upgrade(conn, "0001")
        from sqlalchemy import text

        conn.execute(
            text(
                "INSERT INTO mf_flow (fingerprint, name, definition, registered_at) "
                "VALUES ('f0', 'national', '{}', '2025-03-03 01:00:00+00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO mf_case (id, region, state, version, flow_fingerprint, worker_count, "
                "is_migrant_worker, received_on, opened_at, updated_at, attributes) VALUES "
                "(7, '430102', 'received', 1, 'f0', 1, false, '2025-03-03', "
                "'2025-03-03 01:00:00+00', '2025-03-03 01:00:00+00', '{}')"
            )
        )
    store.dispose()
    with pytest.raises(SchemaMismatch, match="db upgrade"):
        Engine(db_url)
    result = CliRunner().invoke(main, ["--db", db_url, "db", "upgrade"])
    assert result.exit_code == 0, result.output
    with Engine(db_url) as engine:
        assert engine.get(7).state == "received"
        # Migration 0007 gave the old case a serial, which finds it.
        serial = engine.get(7).serial
        assert re.fullmatch(r"430102-250303-[0-9A-HJKMNP-TV-Z]{8}", serial)
        assert engine.lookup(serial).stage_key == "received"


def test_a_newer_schema_is_refused(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    Engine(url).close()
    store = Store(url)
    with store.writing() as conn:
        from sqlalchemy import text

        conn.execute(text(f"UPDATE {schema.VERSION_TABLE} SET version_num = 'ffff'"))
    store.dispose()
    with pytest.raises(SchemaMismatch, match="newer than this release"):
        Engine(url)


def test_the_db_commands_work_as_documented(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    current = runner.invoke(main, ["--db", url, "db", "current"])
    assert "database: none" in current.output
    upgraded = runner.invoke(main, ["--db", url, "db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"schema at {schema.head_revision()}" in upgraded.output
    assert "up to date" in runner.invoke(main, ["--db", url, "db", "current"]).output
    down = runner.invoke(main, ["--db", url, "db", "downgrade", "base"])
    assert "schema at base" in down.output


def test_migrating_down_and_up_keeps_every_row_of_every_case(db_url: str) -> None:
    """Alembic rebuilds SQLite tables by copying them: with foreign keys on, dropping the old
    mf_case would cascade into parties, events and deadlines. Nothing may be lost either way."""
    from sqlalchemy import func, select

    from mediation_flow.storage.tables import metadata as tables

    with Engine(db_url, entry_points=False) as engine:
        for i in range(3):
            case = engine.open_case(make_intake(), at=at(2025, 3, 3))
            engine.fire(case.id, "refer_to_negotiation", at=at(2025, 3, 3), idempotency_key=f"k{i}")
            engine.fire(case.id, "fail_negotiation", at=at(2025, 3, 4))
            engine.fire(case.id, "apply_arbitration", data={"by": "worker"}, at=at(2025, 3, 5))
        serials = {c.id: c.serial for c in engine.cases()}
    names = ["mf_case", "mf_party", "mf_claim", "mf_event", "mf_deadline", "mf_idempotency"]

    def counts() -> dict[str, int]:
        store = Store(db_url)
        try:
            with store.reading() as conn:
                return {
                    n: conn.execute(select(func.count()).select_from(tables.tables[n])).scalar_one()
                    for n in names
                }
        finally:
            store.dispose()

    before = counts()
    assert before["mf_event"] >= 12 and before["mf_deadline"] > 0
    for command in (["db", "downgrade", "0006"], ["db", "upgrade"]):
        result = CliRunner().invoke(main, ["--db", db_url, *command])
        assert result.exit_code == 0, result.output
        assert counts() == before, command
    with Engine(db_url, entry_points=False) as engine:
        assert engine.verify_all() == []
        # The serials come back from the open_case events that recorded them.
        assert {c.id: c.serial for c in engine.cases()} == serials
