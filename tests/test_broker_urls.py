"""A cluster's brokers as one ``;``-separated URL: each connection tries them in its own
shuffled order (so the hub's connections, and the leaders of the queues it declares, spread
over the nodes instead of all landing on the first), and an error names every broker with
none of their passwords."""

from __future__ import annotations

from typing import Any

import pytest
from kombu.connection import Connection

from hub.routing import _kombu
from hub.routing.bus import BrokerUnavailableError, create_bus
from hub.routing.topology import build_topology

pytestmark = pytest.mark.unit

NODES = [f"amqp://hub:secret{n}@10.0.0.{n}:5672/hub" for n in (1, 2, 3)]


def _tried(monkeypatch: pytest.MonkeyPatch, answering: str | None) -> list[list[str]]:
    """Make ``_open_one`` record the brokers each ``open_kombu`` call tries; only
    ``answering`` connects. The list of attempts, one list per call."""
    calls: list[list[str]] = []

    def open_one(url: str, _ssl: Any) -> Connection:
        calls[-1].append(url)
        if url != answering:
            raise ConnectionRefusedError(f"nothing listens at {url}")
        return Connection("memory://")

    monkeypatch.setattr(_kombu, "_open_one", open_one)
    return calls


def test_each_connection_tries_every_node_in_a_shuffled_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _tried(monkeypatch, answering=None)
    for _ in range(60):
        calls.append([])
        with pytest.raises(ConnectionRefusedError):
            _kombu.open_kombu(";".join(NODES), False)
    assert all(sorted(tried) == NODES for tried in calls)  # each node once per connection
    firsts = {tried[0] for tried in calls}
    assert firsts == set(NODES)  # (2/3)^60 * 3: the chance that one never comes first


def test_the_first_node_that_answers_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _tried(monkeypatch, answering=NODES[1])
    for _ in range(20):
        calls.append([])
        _kombu.open_kombu(";".join(NODES), False).release()
        assert calls[-1][-1] == NODES[1]
        assert NODES[1] not in calls[-1][:-1]


def test_a_single_url_is_opened_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _tried(monkeypatch, answering=NODES[0])
    calls.append([])
    _kombu.open_kombu(NODES[0], False).release()
    assert calls == [[NODES[0]]]


def test_every_url_of_a_list_is_masked() -> None:
    masked = _kombu._masked(";".join(NODES[:2]))
    assert masked == "amqp://***@10.0.0.1:5672/hub;amqp://***@10.0.0.2:5672/hub"


def test_an_unreachable_cluster_names_every_node_and_no_password() -> None:
    nowhere = [f"amqp://guest:pw{port}@127.0.0.1:{port}//" for port in (1, 2)]
    bus = create_bus(";".join(nowhere), build_topology())
    with pytest.raises(BrokerUnavailableError) as caught:
        bus.declare()
    shown = str(caught.value.as_dict())
    assert "pw1" not in shown and "pw2" not in shown
    assert "127.0.0.1:1/" in shown and "127.0.0.1:2/" in shown
