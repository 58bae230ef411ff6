"""The journal's data keys: the checks run before anything is written, the index key, and
rotation (re-sealing rows under the active key).

``key_checks`` holds, for every data key ever used, a known value sealed under it
(``check:<id>``): a key configured under a known id with other material fails to open it, and
the journal refuses to start instead of writing rows nobody could read next to rows it cannot
read. The row ``index`` holds the secret of the indexes' keyed hashes, sealed, so it outlives
the key it was derived from.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, exists, func, select, update

from hub.errors import ConfigurationError
from hub.journal import _rows
from hub.journal._rows import AnyRow
from hub.journal._sealing import Vault
from hub.journal.engine import transaction
from hub.journal.schema import (
    business_keys,
    failed_messages,
    inbox,
    key_checks,
    outbound_requests,
    outbox,
    subject_sequences,
)
from hub.protection.sealing import PLAIN, SealingError

KNOWN = b"hub key check v1"
INDEX = "index"
_CHECKS = "key_checks.value"


@dataclass(frozen=True, slots=True)
class Sealed:
    """A table with sealed columns: its key and each sealed column's kind and place."""

    table: Table
    key: str
    columns: tuple[tuple[str, str, str], ...]  # (column, blob|text|json, where)


SEALED = (
    Sealed(inbox, "inbox_id", (("raw", "blob", _rows.INBOX_RAW),)),
    Sealed(outbox, "event_id", (("payload", "blob", _rows.OUTBOX_PAYLOAD),)),
    Sealed(
        failed_messages,
        "failed_id",
        (
            ("reason", "text", _rows.FAILED_REASON),
            ("traceback", "text", _rows.FAILED_TRACEBACK),
        ),
    ),
    Sealed(
        outbound_requests,
        "request_id",
        (
            ("payload", "blob", _rows.OUTBOUND_PAYLOAD),
            ("context", "json", _rows.OUTBOUND_CONTEXT),
        ),
    ),
)


def _check_name(key_id: str) -> str:
    return f"check:{key_id}"


def _refuse(message: str, **details: Any) -> ConfigurationError:
    return ConfigurationError(" ".join(message.split()), **details)


def prepare(conn: Connection, vault: Vault, now: datetime) -> None:
    """Check the configured keys against the journal, then (only then) record the active
    key's check and the index key. ``ConfigurationError`` names key ids, never material."""
    checks = {row.name: row for row in conn.execute(select(key_checks))}
    configured = vault.sealer.key_ids - {PLAIN}
    _check_known_keys(vault, checks, configured)
    _check_unknown_keys(conn, checks, configured)
    index_key = _index_key(vault, checks.get(INDEX))
    vault.index_key = index_key
    if INDEX not in checks:
        _hash_clear_indexes(conn, vault)
        _store(conn, vault, INDEX, index_key, now)
    if not vault.plain:
        _record_active(conn, vault, checks.get(_check_name(vault.key_id)), now)


def _check_known_keys(vault: Vault, checks: dict[str, AnyRow], configured: frozenset[str]) -> None:
    for key_id in sorted(configured):
        row = checks.get(_check_name(key_id))
        if row is None:
            continue
        try:
            opened = vault.unblob(row.value, key_id, _CHECKS, row.name)
        except SealingError as exc:
            raise _refuse(
                f"encryption key {key_id!r} is not the key this journal knows under that id: "
                "its check value does not open (wrong key material in HUB_ENCRYPTION_KEYS)",
                key_id=key_id,
            ) from exc
        if not hmac.compare_digest(opened, KNOWN):  # pragma: no cover - sealed by us
            raise _refuse(f"encryption key {key_id!r}: unexpected check value", key_id=key_id)


def _check_unknown_keys(
    conn: Connection, checks: dict[str, AnyRow], configured: frozenset[str]
) -> None:
    used = {row.key_id for name, row in checks.items() if name.startswith("check:")}
    for key_id in sorted(used - configured):
        if checks[_check_name(key_id)].retired_at is None and _rows_under(conn, key_id):
            raise _refuse(
                f"rows in the journal are sealed under key {key_id!r}, which is not configured: "
                "add it to HUB_ENCRYPTION_KEYS (then `hub keys rotate` to move off it)",
                key_id=key_id,
            )


def _rows_under(conn: Connection, key_id: str) -> bool:
    tables = [spec.table for spec in SEALED] + [key_checks]
    probes = [select(exists().where(t.c.key_id == key_id, *_not_check(t))) for t in tables]
    return any(conn.execute(probe).scalar() for probe in probes)


def _not_check(table: Table) -> list[Any]:
    return [table.c.name == INDEX] if table is key_checks else []


def _index_key(vault: Vault, stored: AnyRow | None) -> bytes:
    if stored is None:
        return vault.sealer.index_key()
    key = vault.unblob(stored.value, stored.key_id, _CHECKS, INDEX)
    explicit = vault.sealer.explicit_index_key
    if explicit is not None and not hmac.compare_digest(explicit, key):
        raise _refuse(
            "HUB_INDEX_KEY is not the index key this journal's indexes were made with: keep "
            "the old value (or leave it unset to use the stored one)"
        )
    return key


def _store(conn: Connection, vault: Vault, name: str, value: bytes, now: datetime) -> None:
    sealed = vault.blob(value, _CHECKS, name)
    row = {"name": name, "key_id": vault.key_id, "value": sealed, "created_at": now}
    conn.execute(key_checks.insert(), row)


def _record_active(conn: Connection, vault: Vault, row: AnyRow | None, now: datetime) -> None:
    name = _check_name(vault.key_id)
    if row is None:
        _store(conn, vault, name, KNOWN, now)
    elif row.retired_at is not None:
        conn.execute(update(key_checks).where(key_checks.c.name == name).values(retired_at=None))


def _hash_clear_indexes(conn: Connection, vault: Vault) -> None:
    """Rows written before keyed hashes (schema 0003 and older) get them, in place."""
    for table, column in ((business_keys, "key"), (subject_sequences, "subject")):
        col = table.c[column]
        values = list(conn.execute(select(col)).scalars())
        if values:
            stmt = (
                update(table).where(col == bindparam("b_old")).values({column: bindparam("b_new")})
            )
            conn.execute(stmt, [{"b_old": v, "b_new": vault.index(v)} for v in values])


# --- rotation -------------------------------------------------------------------------------


def rotate(engine: Engine, vault: Vault, batch: int) -> Iterator[tuple[int, int]]:
    """Re-seal every row not under the active key, ``batch`` rows per transaction; yields
    (done, total), first (0, total)."""
    active = vault.key_id
    with transaction(engine) as conn:
        total = sum(conn.execute(_count(s.table, active)).scalar_one() for s in SEALED)
        total += _reseal_index(conn, vault)
    done = 0
    yield done, total
    for spec in SEALED:
        for moved in _reseal_table(engine, vault, spec, batch):
            done += moved
            yield done, total
    with transaction(engine) as conn:
        _retire_unused(conn, active, datetime.now(UTC))


def _count(table: Table, active: str) -> Any:
    return select(func.count()).where(table.c.key_id != active)


def _reseal_index(conn: Connection, vault: Vault) -> int:
    row = conn.execute(select(key_checks).where(key_checks.c.name == INDEX)).first()
    if row is None or row.key_id == vault.key_id:
        return 0
    value = vault.blob(vault.unblob(row.value, row.key_id, _CHECKS, INDEX), _CHECKS, INDEX)
    stmt = update(key_checks).where(key_checks.c.name == INDEX)
    conn.execute(stmt.values(value=value, key_id=vault.key_id))
    return 0  # one small row, not worth a step of the progress bar


def _reseal_table(engine: Engine, vault: Vault, spec: Sealed, batch: int) -> Iterator[int]:
    table, key = spec.table, spec.table.c[spec.key]
    names = [name for name, _, _ in spec.columns]
    last = ""
    while True:
        with transaction(engine) as conn:
            pick = select(key, table.c.key_id, *(table.c[n] for n in names)).where(
                table.c.key_id != vault.key_id, key > last
            )
            rows = conn.execute(pick.order_by(key).limit(batch).with_for_update()).all()
            if not rows:
                return
            conn.execute(_reseal_statement(spec), [_resealed(vault, spec, row) for row in rows])
            last = rows[-1][0]
        yield len(rows)


def _reseal_statement(spec: Sealed) -> Any:
    table = spec.table
    values: dict[str, Any] = {name: bindparam(f"b_{name}") for name, _, _ in spec.columns}
    values["key_id"] = bindparam("b_key_id")
    return update(table).where(table.c[spec.key] == bindparam("b_pk")).values(values)


def _resealed(vault: Vault, spec: Sealed, row: AnyRow) -> dict[str, Any]:
    m = row._mapping
    row_id, key_id = m[spec.key], m["key_id"]
    out: dict[str, Any] = {"b_pk": row_id, "b_key_id": vault.key_id}
    for name, kind, where in spec.columns:
        out[f"b_{name}"] = _reseal_value(vault, kind, m[name], key_id, where, row_id)
    return out


def _reseal_value(  # noqa: PLR0917 - one value and where it lives
    vault: Vault, kind: str, value: Any, key_id: str, where: str, row_id: str
) -> Any:
    if kind == "blob":
        return vault.blob(vault.unblob(value, key_id, where, row_id), where, row_id)
    if kind == "text":
        return vault.text(vault.untext(value, key_id, where, row_id), where, row_id)
    return vault.json(vault.unjson(value, key_id, where, row_id), where, row_id)


def _retire_unused(conn: Connection, active: str, now: datetime) -> None:
    rows: Sequence[AnyRow] = conn.execute(
        select(key_checks).where(key_checks.c.key_id != active, key_checks.c.retired_at.is_(None))
    ).all()
    for row in rows:
        if row.name != INDEX and not _rows_under(conn, row.key_id):
            stmt = update(key_checks).where(key_checks.c.name == row.name)
            conn.execute(stmt.values(retired_at=now))
