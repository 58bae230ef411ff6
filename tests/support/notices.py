"""Test adapters and messages: a tiny agency whose notices become one event each."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from lxml import etree

from hub.adapters.router import Router, Translation
from hub.canonical.drafts import EventDraft
from hub.errors import RetryableError
from hub.journal.records import InboxRecord
from hub.smev import SendRequest, build_send_request, serialize
from hub.smev.build import ElementSigner
from hub.smev.read import SmevMessage

NOTICE_NS = "urn://hub.test/notice/1.0"
NOTICE = f"{{{NOTICE_NS}}}Notice"
FLAKY = f"{{{NOTICE_NS}}}Flaky"
LATE = f"{{{NOTICE_NS}}}Late"  # no adapter until a test "fixes the cause"


def notice(
    subject: str,
    n: int,
    *,
    record_id: str | None = None,
    tag: str = NOTICE,
    signer: ElementSigner | None = None,
) -> bytes:
    """A SMEV message carrying one test notice about ``subject``."""
    content = etree.Element(tag, nsmap={"t": NOTICE_NS})
    content.set("n", str(n))
    if record_id is not None:
        content.set("record", record_id)
    etree.SubElement(content, f"{{{NOTICE_NS}}}Subject").text = subject
    return serialize(build_send_request(SendRequest(content), "1.3", signer))


def translate_notice(message: SmevMessage, record: InboxRecord) -> Translation:
    content = message.content
    assert content is not None
    subject = content.findtext(f"{{{NOTICE_NS}}}Subject") or ""
    record_id = content.get("record")
    draft = EventDraft("test.notice.received", subject, {"n": int(content.get("n", "0"))})
    return Translation([draft], f"notice:{record_id}" if record_id else None)


class FlakyAdapter:
    """Fails with a passing error for the first ``failures`` attempts of each message."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, message: SmevMessage, record: InboxRecord) -> Translation:
        with self.lock:
            self.calls[record.inbox_id] = self.calls.get(record.inbox_id, 0) + 1
            calls = self.calls[record.inbox_id]
        if calls <= self.failures:
            raise RetryableError(f"agency unavailable (call {calls})")
        return translate_notice(message, record)


def register(router: Router) -> None:
    """The plug-in hook (``HUB_ADAPTERS=tests.support.notices:register``)."""
    router.register_inbound(NOTICE, translate_notice)


def register_slow(router: Router) -> None:
    """Notices that take 30 ms each (``HUB_ADAPTERS=tests.support.notices:register_slow``): a worker
    killed at any moment holds a batch in hand and more prefetched."""

    def slowly(message: SmevMessage, record: InboxRecord) -> Translation:
        time.sleep(0.03)
        return translate_notice(message, record)

    router.register_inbound(NOTICE, slowly)


@contextmanager
def running(*targets: object) -> Iterator[threading.Event]:
    """Run services' ``run(stop)`` in threads for the duration of a block."""
    stop = threading.Event()
    threads = [
        threading.Thread(target=t.run, args=(stop,), daemon=True)  # type: ignore[attr-defined]
        for t in targets
    ]
    for thread in threads:
        thread.start()
    try:
        yield stop
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


def register_late(router: Router) -> None:
    """The "fix" for LATE notices, deployed as a plug-in."""
    router.register_inbound(NOTICE, translate_notice)
    router.register_inbound(LATE, translate_notice)
