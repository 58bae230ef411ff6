"""The SMEV client against the simulator's genuine quirks (``hub.simulator.Quirks``), in
process: what real SMEV does that a tidy simulator would not, and the client copes."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hub.canonical.ids import inbox_id_for
from hub.crypto.keys import Certificate
from hub.journal.records import InboxStatus
from hub.simulator import Quirks
from hub.simulator.population import Population, zags_notices
from hub.simulator.transport import ExchangeTransport
from tests.support.notices import running
from tests.support.waiting import wait_for
from tests.test_smev_client_survives import Recording, _hub, _status, _world

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def population() -> Population:
    return Population.generate(3, 4, reference_date=date(2026, 3, 1))


def test_smev_repeating_its_head_message_ends_the_batch_and_nothing_is_taken_twice(  # noqa: PLR0917 - pytest fixtures
    tmp_path: Path,
    topology_prefix: str,
    dev_key_pair: tuple[Any, Certificate],
    fast_backend: Any,
    population: Population,
    reference_dir: Path,
) -> None:
    quirks = Quirks(head_until_acked=True)
    world = _world(fast_backend, dev_key_pair[1], population, reference_dir, quirks=quirks)
    transport = Recording(ExchangeTransport(world.exchange))
    hub = _hub(
        tmp_path, topology_prefix, transport, dev_key_pair, fast_backend, require_signatures=False
    )
    pushed = world.agencies.zags.push_notices(world.exchange, zags_notices(population)[:3])
    client = hub.smev_client
    try:
        # Each batch ends at the head message handed out again: one message, one Ack.
        assert [client.take("requests") for _ in range(4)] == [1, 1, 1, 0]
        assert client.stats["repeated in a batch"] == 3
        assert [message_id for message_id, _ in transport.acks()] == pushed
        polls = Counter(m.operation for m in transport.sent)
        assert polls["GetRequestRequest"] == 7  # two per message, one for the empty queue
        assert client.stats["taken"] == 3 and client.stats["duplicate deliveries"] == 0
    finally:
        hub.close()


def test_the_client_takes_genuine_deliveries_with_signatures_required(  # noqa: PLR0917 - pytest fixtures
    tmp_path: Path,
    topology_prefix: str,
    dev_key_pair: tuple[Any, Certificate],
    fast_backend: Any,
    population: Population,
    reference_dir: Path,
) -> None:
    # The sender's signature inside Request, DeliveryTimestamp, 1.3's status names in a
    # 1.2 reply: SMEV's signature still holds (Ack true) and the worker takes the message.
    world = _world(
        fast_backend, dev_key_pair[1], population, reference_dir, quirks=Quirks.genuine()
    )
    transport = Recording(ExchangeTransport(world.exchange, "1.2"))
    hub = _hub(
        tmp_path,
        topology_prefix,
        transport,
        dev_key_pair,
        fast_backend,
        smev_version="1.2",
        require_signatures=True,
    )
    [pushed] = world.agencies.zags.push_notices(world.exchange, zags_notices(population)[:1])
    client = hub.smev_client
    try:
        with running(hub.worker, hub.relay):
            assert client.take("requests") == 1
            assert transport.acks() == [(pushed, True)]
            inbox_id = inbox_id_for("smev", pushed)
            wait_for(lambda: _status(hub, inbox_id) is InboxStatus.PROCESSED)
        assert not hub.journal.failed()
    finally:
        hub.close()
