"""``hub bench --suite encryption``: what encryption at rest costs on the inbound path.

The journal's part of the inbound path, as the worker and the relay drive it: the worker's
fast path (store with the outcome: one event per message), the three-step path (receive, count
an attempt, complete) and the relay (read pending events, mark them published), once with no
keys (stored in clear) and once with AES-256-GCM, each on its own fresh database: SQLite, and
PostgreSQL when reachable. The two modes run their batches in turn, so the load of anything
else on the machine hits both alike.
"""

from __future__ import annotations

import base64
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from hub.canonical.ids import event_id_for
from hub.errors import HubError
from hub.journal.records import InboundMessage, NewEvent, Outcome
from hub.journal.sql import SqlJournal
from hub.protection import AesGcmSealer, PlainSealer, Sealer, parse_keyring

BATCH = 100
ROUNDS = 5
# A signed SMEV answer is about 5 KB; the event made of it about 1 KB.
_RAW = (
    "<Ответ><Студент><Фамилия>Иванова</Фамилия><СНИЛС>112-233-445 95</СНИЛС></Студент></Ответ>" * 50
).encode()
_EVENT = ('{"student":{"name":"Иванова Анна","snils":"112-233-445 95"}}' * 16).encode()


@dataclass(frozen=True, slots=True)
class Figure:
    backend: str
    path: str
    plain: float  # messages per second
    sealed: float

    @property
    def slowdown(self) -> float:
        return (self.plain - self.sealed) / self.plain * 100


def sealers() -> dict[str, Sealer]:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    keyring = parse_keyring(f"bench:{key}")
    assert keyring is not None  # noqa: S101 - one key given
    return {"plain": PlainSealer(), "sealed": AesGcmSealer(keyring)}


def _message(run: str, n: int) -> InboundMessage:
    return InboundMessage("bench", f"{run}-{n}", _RAW, "zags", "answer", scope="45201/1")


def _outcome(inbox_id: str, n: int) -> Outcome:
    event = NewEvent(event_id_for(inbox_id, 0), "bench.answer", f"student:{n % 1000}", _EVENT)
    return Outcome(inbox_id, events=[event], scope="45201/1")


def fast_path(journal: SqlJournal, run: str, numbers: range) -> None:
    """The worker's fast path, then the relay."""
    pairs = [(m, _outcome(m.inbox_id, n)) for n in numbers if (m := _message(run, n))]
    journal.receive_processed(pairs)
    _relay(journal, len(pairs))


def three_steps(journal: SqlJournal, run: str, numbers: range) -> None:
    """Receive, count an attempt, complete with events, then the relay."""
    messages = [_message(run, n) for n in numbers]
    journal.receive(messages)
    records = journal.start_attempts([m.inbox_id for m in messages])
    journal.complete([_outcome(r.inbox_id, n) for r, n in zip(records, numbers, strict=True)])
    _relay(journal, len(messages))


def _relay(journal: SqlJournal, count: int) -> None:
    events = journal.pending_events(count)
    journal.mark_published([e.event_id for e in events])


PATHS: dict[str, Callable[[SqlJournal, str, range], None]] = {
    "worker fast path + relay": fast_path,
    "receive, attempt, complete + relay": three_steps,
}


def _interleaved(
    journals: dict[str, SqlJournal], path: Callable[[SqlJournal, str, range], None], n: int
) -> dict[str, float]:
    """Messages per second of each mode, running their batches in turn (the mode going first
    alternates): a load spike from elsewhere on the machine hits both modes alike."""
    run = uuid.uuid4().hex[:8]
    spent = dict.fromkeys(journals, 0.0)
    for number, first in enumerate(range(0, n, BATCH)):
        order = list(journals) if number % 2 == 0 else list(reversed(journals))
        for mode in order:
            started = time.perf_counter()
            path(journals[mode], run, range(first, min(first + BATCH, n)))
            spent[mode] += time.perf_counter() - started
    return {mode: n / seconds for mode, seconds in spent.items()}


def measure(urls: dict[str, str], n: int, rounds: int = ROUNDS) -> list[tuple[str, float, float]]:
    """(path, plain msg/s, sealed msg/s): the median of ``rounds`` interleaved runs, on the
    databases ``urls`` names for the modes ``plain`` and ``sealed``."""
    chosen = sealers()
    journals = {
        mode: SqlJournal(url, create=True, sealer=chosen[mode]) for mode, url in urls.items()
    }
    try:
        results = []
        for name, path in PATHS.items():
            runs = [_interleaved(journals, path, n) for _ in range(rounds)]
            middle = {mode: statistics.median(r[mode] for r in runs) for mode in journals}
            results.append((name, middle["plain"], middle["sealed"]))
        return results
    finally:
        for journal in journals.values():
            journal.close()


def sealing_cost(iterations: int = 5000) -> float:
    """Microseconds of AES-GCM work per message on the inbound path: seal the raw message and
    its event, open the event for the relay (the CPU part of the cost, free of I/O noise)."""
    sealed = sealers()["sealed"]
    started = time.perf_counter()
    for n in range(iterations):
        sealed.seal(_RAW, f"inbox.raw:{n}".encode())
        blob = sealed.seal(_EVENT, f"outbox.payload:{n}".encode())
        sealed.open(blob, f"outbox.payload:{n}".encode())
    return (time.perf_counter() - started) / iterations * 1e6


@contextmanager
def _sqlite() -> Iterator[dict[str, str]]:
    with tempfile.TemporaryDirectory(prefix="hub-bench-enc-") as folder:
        yield {mode: f"sqlite:///{Path(folder) / f'{mode}.db'}" for mode in ("plain", "sealed")}


@contextmanager
def _postgresql(admin_url: str) -> Iterator[dict[str, str]]:
    from hub.bench.backbone import bench_database  # noqa: PLC0415 - loads the broker clients

    with bench_database(admin_url) as plain, bench_database(admin_url) as sealed:
        yield {"plain": plain, "sealed": sealed}


def run(console: Console, pg_admin_url: str, messages: int) -> list[Figure]:
    """Measure on SQLite and (when reachable) PostgreSQL and print a table."""
    n = max(BATCH, min(messages, 5000))
    stacks: dict[str, Callable[[], AbstractContextManager[dict[str, str]]]] = {
        "SQLite": _sqlite,
        "PostgreSQL": lambda: _postgresql(pg_admin_url),
    }
    figures: list[Figure] = []
    for backend, stack in stacks.items():
        try:
            with stack() as urls:
                figures += [Figure(backend, *row) for row in measure(urls, n)]
        except (HubError, OSError, SQLAlchemyError) as exc:
            console.print(f"{backend} skipped: {exc}", style="yellow")
    console.print(table(figures, n))
    cost = sealing_cost()
    fastest = max((f.plain for f in figures), default=0.0)
    share = (
        f": {cost * fastest / 1e4:.1f} % of a message's time at {fastest:,.0f} msg/s"
        if fastest
        else ""
    )
    console.print(
        f"AES-256-GCM work per message (seal raw + event, open event): {cost:.1f} µs{share}"
    )
    return figures


def table(figures: list[Figure], n: int) -> Table:
    out = Table(title=f"encryption at rest: {n} messages per run, median of {ROUNDS}")
    for column in ("database", "path", "in clear msg/s", "AES-256-GCM msg/s", "slower"):
        out.add_column(column, justify="left" if column in ("database", "path") else "right")
    for f in figures:
        out.add_row(f.backend, f.path, f"{f.plain:,.0f}", f"{f.sealed:,.0f}", f"{f.slowdown:.1f} %")
    return out
