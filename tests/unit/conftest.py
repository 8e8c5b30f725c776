"""Fixtures for unit tests that need a store: a real, migrated SQLite database in a temp file.

Migrating takes a while, so the schema is built once per session and each test gets a copy.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecsram.iam.tokens import TokenAuthority
from ecsram.store import accounts
from ecsram.store.database import Database


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("template")
    database = Database(f"sqlite:///{directory / 'ecsram.db'}")
    try:
        database.migrate()
    finally:
        database.close()
    return directory


@pytest.fixture
def database(migrated_template: Path, tmp_path: Path) -> Iterator[Database]:
    for path in migrated_template.glob("ecsram.db*"):
        if not path.name.endswith("writer-lock"):
            shutil.copy(path, tmp_path / path.name)
    db = Database(f"sqlite:///{tmp_path / 'ecsram.db'}")
    yield db
    db.close()


@pytest.fixture
def root_key(database: Database) -> accounts.AccessKey:
    with database.transaction() as tx:
        return accounts.create_account(tx, time.time())


@pytest.fixture
def tokens() -> TokenAuthority:
    return TokenAuthority(b"unit-test-token-secret-0123456789")
