"""The skeleton shared by RAM's named entities (users, groups, roles): rows unique per account by a
case-insensitive name, found by name or by ID, listed in name order with keyset paging.

Each kind declares its table, its row type and the columns a save may change; the statements
are built here once per kind, so the four operations every kind needs are written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any, Generic, TypeVar

from sqlalchemy import Table, bindparam, delete, func, select, update

from ecsram.store.sql import Statement, Tx, insert_if_absent, params

Entity = TypeVar("Entity")


def name_key(name: str) -> str:
    """How names compare: RAM names are unique per account regardless of case."""
    return name.lower()


class NamedEntities(Generic[Entity]):
    def __init__(
        self, kind: str, table: Table, entity: type[Entity], *, mutable: Sequence[str], id_column: str, name_column: str
    ) -> None:
        self._entity = entity
        self._names = [f.name for f in fields(entity)]  # type: ignore[arg-type]
        self._mutable = tuple(mutable)
        self._id = id_column
        self._name = name_column
        key_column = f"{name_column}_key"
        columns = tuple(table.c[name] for name in self._names)
        in_account = table.c.account_id == bindparam("account_id")
        by_id = table.c[id_column] == bindparam(id_column)
        self._insert = insert_if_absent(f"insert_{kind}", table, params(*self._names, **{key_column: "name_key"}))
        self._find = Statement(
            f"find_{kind}", select(*columns).where(in_account, table.c[key_column] == bindparam("name_key"))
        )
        self._by_id = Statement(f"{kind}_by_id", select(*columns).where(by_id))
        changes: dict[str, Any] = {name: bindparam(name) for name in self._mutable}
        if name_column in self._mutable:
            changes[key_column] = bindparam("name_key")
        self._update = Statement(f"update_{kind}", update(table).where(by_id).values(**changes))
        self._delete = Statement(f"delete_{kind}", delete(table).where(by_id))
        self._list = Statement(
            f"list_{kind}s",
            select(*columns)
            .where(in_account, table.c[key_column] > bindparam("after"))
            .order_by(table.c[key_column])
            .limit(bindparam("limit")),
        )
        self._count = Statement(f"count_{kind}s", select(func.count()).where(in_account))

    def key_of(self, entity: Entity) -> str:
        """The entity's name key: where a page of ``list_page`` ends."""
        return name_key(getattr(entity, self._name))

    def _row(self, row: Any) -> Entity:
        return self._entity(*row)

    def insert(self, tx: Tx, entity: Entity) -> bool:
        """Store a new entity; False if the account has one of that name (in any case) already."""
        values = {name: getattr(entity, name) for name in self._names}
        return tx.run(self._insert, {**values, "name_key": name_key(getattr(entity, self._name))}) == 1

    def find(self, tx: Tx, account_id: str, name: str) -> Entity | None:
        row = tx.one(self._find, {"account_id": account_id, "name_key": name_key(name)})
        return None if row is None else self._row(row)

    def by_id(self, tx: Tx, entity_id: str) -> Entity | None:
        row = tx.one(self._by_id, {self._id: entity_id})
        return None if row is None else self._row(row)

    def save(self, tx: Tx, entity: Entity) -> None:
        """Write the entity's changeable fields (its name too, where it may be renamed)."""
        values = {name: getattr(entity, name) for name in self._mutable}
        values[self._id] = getattr(entity, self._id)
        if self._name in self._mutable:
            values["name_key"] = name_key(getattr(entity, self._name))
        tx.run(self._update, values)

    def delete(self, tx: Tx, entity_id: str) -> None:
        tx.run(self._delete, {self._id: entity_id})

    def list_page(self, tx: Tx, account_id: str, *, after: str, limit: int) -> list[Entity]:
        """Entities in name order after the name key ``after`` (keyset paging)."""
        return [
            self._row(row) for row in tx.all(self._list, {"account_id": account_id, "after": after, "limit": limit})
        ]

    def count(self, tx: Tx, account_id: str) -> int:
        return int(tx.scalar(self._count, {"account_id": account_id}))
