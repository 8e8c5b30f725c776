"""The statements on the request path find rows through indexes: their cost must not grow with
the number of instances, roles or nonces in the store. Checked with SQLite's query planner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from ecsram.store import instances, roles, tags
from ecsram.store.database import Database
from ecsram.store.sql import Statement

SAMPLE: dict[str, Any] = {
    "account_id": "1000000000000001",
    "region_id": "cn-hangzhou",
    "ids": '["i-aaaaaaaaaaaaaaaaaaaa"]',
    "role_name": "r",
    "name_key": "r",
    "role_id": "300000000000000001",
    "policy": None,
    "now": "2026-01-01T00:00:00Z",
    "instance_id": "i-aaaaaaaaaaaaaaaaaaaa",
    "expected": "Running",
    "status": "Stopped",
    "offset": 0,
    "limit": 10,
    "access_key_id": "LTAI0000000000000000",
    "nonce": "n",
    "expires_at": 0,
    "after": "",
    "resource_type": "instance",
    "keys": '["env"]',
    "disk_ids": '["d-aaaaaaaaaaaaaaaaaaaa"]',
    "network_interface_ids": '["eni-aaaaaaaaaaaaaaaaaaaa"]',
    "started_at": "2026-01-01T00:00:00Z",
    "instance_name": None,
    "description": None,
    "host_name": None,
    "user_data": None,
    "password_set": None,
    "security_group_ids": None,
    "deletion_protection": None,
    "network_type": "vpc",
}


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path: Path = tmp_path_factory.mktemp("plans") / "plans.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    yield db
    db.close()


BY_IDS = "(account_id=? AND region_id=? AND instance_id=?)"
BY_ROLE = "ix_instances_role (account_id=? AND region_id=? AND ram_role_name=?)"


_STATEMENTS: list[tuple[Statement, str]] = [
    (instances._LOCK_FOR_BINDING, BY_IDS),
    (instances._BIND, BY_IDS),
    (instances._UNBIND, BY_IDS),
    (instances._ROLES_OF, BY_IDS),
    (instances._BOUND_TO_ROLE_COUNT, BY_ROLE),
    (instances._BOUND_TO_ROLE_PAGE, BY_ROLE),
    (instances._BY_ID, "instance_id=?"),
    (instances._SET_STATUS, "instance_id=?"),
    (instances._DELETE, BY_IDS),
    (instances._IN_REGION, BY_IDS),
    (roles.ROLES._find, "(account_id=? AND role_name_key=?)"),
    (roles.ROLES._by_id, "role_id=?"),
    (instances._listing(frozenset({"ids"}))[0], BY_IDS),
    (instances._listing(frozenset({"ids", "status"}))[1], BY_IDS),
    (tags._OF_RESOURCES, "(account_id=? AND resource_type=? AND resource_id=?)"),
    (tags._COUNTS, "(account_id=? AND resource_type=? AND resource_id=?)"),
    (tags._REMOVE_ALL, "(account_id=? AND resource_type=? AND resource_id=?)"),
    (tags._WITH_KEYS, "ix_tags_key_value (account_id=? AND resource_type=? AND tag_key=?)"),
    (tags._ROLE_NAMES, "role_id=?"),
    (instances._START, "instance_id=?"),
    (instances._MODIFY_ATTRIBUTES, "instance_id=?"),
    (
        instances._listing(frozenset({"disk_ids"}))[0],
        "ix_instances_system_disk (account_id=? AND region_id=? AND system_disk_id=?)",
    ),
    (
        instances._listing(frozenset({"disk_ids"}))[1],
        "ix_instances_system_disk (account_id=? AND region_id=? AND system_disk_id=?)",
    ),
    (
        instances._listing(frozenset({"network_interface_ids", "network_type"}))[0],
        "ix_instances_network_interface (account_id=? AND region_id=? AND network_interface_id=?)",
    ),
    (roles._LOCK, "role_id=?"),
]


@pytest.mark.parametrize(
    ("statement", "expected"), _STATEMENTS, ids=lambda value: value.name if isinstance(value, Statement) else ""
)
def test_searches_by_its_key(database: Any, statement: Statement, expected: str) -> None:
    compiled = statement.compiled(database.dialect)
    with database.transaction(write=False) as tx:
        rows = tx._connection.execute("EXPLAIN QUERY PLAN " + compiled.text, {**compiled.constants, **SAMPLE})
        plan = [row[3] for row in rows.fetchall()]
    assert any(step.startswith("SEARCH") and expected in step for step in plan), plan
    assert not [step for step in plan if step.startswith("SCAN") and "json_each" not in step], plan


@pytest.mark.parametrize(
    "statement", [statement for statement in _STATEMENTS if statement[0].lists], ids=lambda value: value[0].name
)
def test_the_one_value_form_searches_by_the_same_key(database: Any, statement: tuple[Statement, str]) -> None:
    """A call whose lists hold one value each runs the statement's ``=`` form: it must use the
    same index, and no list may be left to json_each."""
    statement_, expected = statement
    compiled = statement_.compiled(database.dialect)
    assert compiled.one_each is not None
    assert "json_each" not in compiled.one_each and "json_each" in compiled.text
    one_each = {name: orjson.loads(SAMPLE[name])[0] for name in statement_.lists}
    with database.transaction(write=False) as tx:
        query = "EXPLAIN QUERY PLAN " + compiled.one_each
        plan = [row[3] for row in tx._connection.execute(query, {**compiled.constants, **SAMPLE, **one_each})]
    # An instance ID is unique on its own: SQLite may probe that unique index instead.
    keys = (expected, "sqlite_autoindex_instances_1 (instance_id=?)")
    assert any(step.startswith("SEARCH") and any(key in step for key in keys) for step in plan), plan
    assert not [step for step in plan if step.startswith("SCAN")], plan
