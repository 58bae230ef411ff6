"""How fast the journal carries messages through the inbound path."""

from __future__ import annotations

import time
import uuid
from typing import Any

from hub.journal.api import InboundMessage, NewEvent, Outcome, event_id_for
from hub.journal.sql import SqlJournal

_PAYLOAD = ("<Ответ><Студент>Иванова Анна</Студент></Ответ>" * 20).encode()
_SUBJECTS = 1000  # events about one person share a sequence row, as in real traffic


def measure(url: str, n: int = 20000, batch: int = 100) -> dict[str, Any]:
    """Run ``n`` messages through receive → start_attempts → complete (one event each) →
    pending_events → mark_published in batches; time per step and messages per second.

    The schema is created if needed; messages carry a fresh run id so runs do not collide.
    """
    run = uuid.uuid4().hex[:8]
    timings = dict.fromkeys(
        ("receive", "start_attempts", "complete", "pending_events", "mark_published"), 0.0
    )
    with SqlJournal(url, create=True) as journal:
        started = time.perf_counter()
        for first in range(0, n, batch):
            _one_batch(journal, run, range(first, min(first + batch, n)), timings)
        elapsed = time.perf_counter() - started
    return {
        "backend": journal.dialect,
        "messages": n,
        "batch": batch,
        "seconds": round(elapsed, 3),
        "messages_per_second": round(n / elapsed),
        "step_seconds": {step: round(spent, 3) for step, spent in timings.items()},
    }


def _one_batch(journal: SqlJournal, run: str, numbers: range, timings: dict[str, float]) -> None:
    messages = [InboundMessage("bench", f"{run}-{i}", _PAYLOAD, "fns", "answer") for i in numbers]
    ids = _timed(timings, "receive", lambda: [r.inbox_id for r in journal.receive(messages)])
    records = _timed(timings, "start_attempts", lambda: journal.start_attempts(ids))
    outcomes = [
        _outcome(record.inbox_id, number) for record, number in zip(records, numbers, strict=False)
    ]
    _timed(timings, "complete", lambda: journal.complete(outcomes))
    events = _timed(timings, "pending_events", lambda: journal.pending_events(len(numbers)))
    _timed(timings, "mark_published", lambda: journal.mark_published([e.event_id for e in events]))


def _outcome(inbox_id: str, number: int) -> Outcome:
    event = NewEvent(
        event_id_for(inbox_id, 0), "registry.answer", f"person-{number % _SUBJECTS}", _PAYLOAD
    )
    return Outcome(inbox_id, events=[event])


def _timed(timings: dict[str, float], step: str, action: Any) -> Any:
    started = time.perf_counter()
    result = action()
    timings[step] += time.perf_counter() - started
    return result
