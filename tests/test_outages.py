"""Broker and database outages mid-stream: the hub recovers by itself, loses and doubles
nothing. A TCP proxy between the hub and RabbitMQ (and PostgreSQL) plays the broken network.
The database connection is as libpq makes it by default (TLS when the server offers it, as
after .ci/tls-setup), and once more with ``sslmode=require``: a cut under TLS fails in other
places of the driver than a cut in clear."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from hub.bootstrap import Hub, bootstrap
from hub.config import Settings
from hub.journal.migrate import upgrade
from hub.routing.api import Outgoing
from tests.support.bus import EventCollector, delete_topology
from tests.support.notices import notice, running
from tests.support.notices import register as register_notices
from tests.support.proxy import TcpProxy, database_through, proxy, uses_tls

pytestmark = [pytest.mark.integration, pytest.mark.slow]
MESSAGES = 600


@pytest.fixture
def proxies(pg_url: str, amqp_url: str) -> Iterator[tuple[TcpProxy, TcpProxy]]:
    pg = make_url(pg_url)
    with proxy(pg.host or "127.0.0.1", pg.port or 5432) as db, proxy("127.0.0.1", 5672) as mq:
        yield db, mq


def _hub_through(
    proxies: tuple[TcpProxy, TcpProxy], pg_url: str, prefix: str, sslmode: str | None
) -> Hub:
    db, mq = proxies
    database = database_through(db, pg_url, sslmode)
    assert uses_tls(database) == (sslmode == "require" or uses_tls(pg_url))
    settings = Settings(
        database_url=database,
        broker_url=f"amqp://guest:guest@127.0.0.1:{mq.port}//",
        topology_prefix=prefix,
        require_signatures=False,
        worker_batch=50,
    )
    hub = bootstrap(settings)
    register_notices(hub.router)
    return hub


def _publish_directly(direct: Hub, first: int, count: int) -> None:
    direct.bus.publish(
        direct.topology.inbound_exchange.name,
        [
            Outgoing(
                notice(f"s{i % 9}", i),
                "zags",
                {"x-hub-source": "smev"},
                str(uuid.uuid4()),
                "text/xml",
            )
            for i in range(first, first + count)
        ],
    )


@pytest.mark.parametrize(
    ("victim", "sslmode"),
    [("broker", None), ("database", None), ("both", None), ("database", "require")],
    ids=["broker", "database", "both", "database-sslmode-require"],
)
def test_outage_mid_stream(  # noqa: PLR0917 - pytest fixtures
    victim: str,
    sslmode: str | None,
    proxies: tuple[TcpProxy, TcpProxy],
    pg_url: str,
    amqp_url: str,
    topology_prefix: str,
) -> None:
    upgrade(pg_url)
    hub = _hub_through(proxies, pg_url, topology_prefix, sslmode)
    direct = bootstrap(
        Settings(database_url=pg_url, broker_url=amqp_url, topology_prefix=topology_prefix)
    )
    direct.bus.declare()
    cut = {"broker": [proxies[1]], "database": [proxies[0]], "both": list(proxies)}[victim]
    try:
        with EventCollector(direct) as events, running(hub.worker, hub.relay):
            _publish_directly(direct, 0, MESSAGES // 2)
            while len(events.unique()) < MESSAGES // 6:
                time.sleep(0.05)
            for p in cut:
                p.cut()
            _publish_directly(direct, MESSAGES // 2, MESSAGES // 2)
            time.sleep(3)
            for p in cut:
                p.restore()
            deadline = time.monotonic() + 120
            while len(events.unique()) < MESSAGES and time.monotonic() < deadline:
                time.sleep(0.2)
        unique = events.unique()
        assert len(unique) == MESSAGES, f"{MESSAGES - len(unique)} events lost"
        assert {e["data"]["n"] for e in unique.values()} == set(range(MESSAGES))
        assert not direct.journal.failed()
    finally:
        delete_topology(amqp_url, direct.topology)
        hub.close()
        direct.close()
