"""Migrations build exactly the schema the code declares."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ecsram.store.database import Database
from ecsram.store.schema import metadata


def test_migrated_schema_matches_metadata(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'schema.db'}")
    try:
        database.migrate()
        database.migrate()  # idempotent
        with database.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
        assert differences == []
    finally:
        database.close()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        database.migrate()
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        database.close()


def test_migrated_schema_matches_metadata_on_postgresql() -> None:
    from tests.support.databases import drop_all, fresh_postgres_database

    url = fresh_postgres_database()
    database = Database(url)
    try:
        database.migrate()
        database.migrate()
        with database.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
        assert differences == []
    finally:
        database.close()
        drop_all([url])


def _upgrade(database: Database, revision: str) -> None:
    from importlib import resources

    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("ecsram.store") / "migrations"))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _instances_before_0004_get_details(url: str) -> None:
    from sqlalchemy import text

    from ecsram.services.ecs import instance_model

    database = Database(url)
    try:
        _upgrade(database, "0003")
        row = {
            "instance_id": "i-legacy00000000000001",
            "account_id": "1000000000000009",
            "region_id": "cn-hangzhou",
            "zone_id": "cn-hangzhou-a",
            "instance_name": "old",
            "description": "",
            "host_name": "old",
            "image_id": "img",
            "instance_type": "ecs.r7.xlarge",
            "network_type": "vpc",
            "vpc_id": "vpc-x",
            "vswitch_id": "vsw-legacy",
            "private_ip": "192.168.9.9",
            "status": "Running",
            "http_endpoint": "enabled",
            "http_tokens": "optional",
            "http_put_response_hop_limit": 1,
            "created_at": "2026-01-01T00:00:00Z",
        }
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO accounts (account_id, created_at) VALUES ('1000000000000009', '2026-01-01T00:00:00Z')"
                )
            )
            columns = ", ".join(row)
            connection.execute(text(f"INSERT INTO instances ({columns}) VALUES (:{', :'.join(row)})"), row)
        database.migrate()
        with database.engine.connect() as connection:
            migrated = connection.execute(text("SELECT * FROM instances")).mappings().one()
        instance_id = row["instance_id"]
        assert migrated["mac_address"] == instance_model.mac_address(str(instance_id))
        assert migrated["serial_number"] == instance_model.serial_number(str(instance_id))
        assert migrated["network_interface_id"] == instance_model.network_interface_id(str(instance_id))
        assert migrated["system_disk_id"] == instance_model.system_disk_id(str(instance_id))
        assert migrated["resource_group_id"] == instance_model.default_resource_group("1000000000000009")
        assert (migrated["cpu"], migrated["memory"]) == instance_model.instance_shape("RunInstances", "ecs.r7.xlarge")
        assert migrated["started_at"] == "2026-01-01T00:00:00Z" and migrated["security_group_ids"] == "[]"
        # An address outside the VSwitch's derived block: no block is claimed for it.
        assert migrated["vswitch_cidr"] is None and not migrated["password_set"]
        assert not migrated["deletion_protection"]
    finally:
        database.close()


def test_migration_0004_fills_existing_instances(tmp_path: Path) -> None:
    _instances_before_0004_get_details(f"sqlite:///{tmp_path / 'legacy.db'}")


def test_migration_0004_fills_existing_instances_on_postgresql() -> None:
    from tests.support.databases import drop_all, fresh_postgres_database

    url = fresh_postgres_database()
    try:
        _instances_before_0004_get_details(url)
    finally:
        drop_all([url])
