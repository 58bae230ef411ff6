"""The backbone benchmark's machinery on the embedded default: a backlog drained end to end
through the worker and relay, every message seen by the benchmark's consumer."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from hub.bench.backbone import PLUGIN, throughput
from hub.bootstrap import bootstrap
from hub.config import Settings

pytestmark = pytest.mark.integration


def test_the_embedded_stack_drains_a_backlog(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/hub.db",
        broker_url="memory://",
        topology_prefix=f"bench{uuid.uuid4().hex[:8]}",
        require_signatures=False,
        adapters=(PLUGIN,),
    )
    hub = bootstrap(settings)
    hub.bus.declare()
    try:
        assert throughput(hub, 300, separate=False) > 0
        assert hub.journal.pending_events(1) == []  # all published: none left behind
    finally:
        hub.close()
