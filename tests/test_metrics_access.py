"""Who may read ``GET /metrics``: region-wide principals with the metrics right only. The
counters and gauges add up every scope's messages, so a school's or a municipality's token
(whatever its role) is refused, and the refusal is audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from hub.access import Role
from hub.bootstrap import Hub
from hub.console import create_app
from tests.support.console import SCHOOL_A, console_hub, token

pytestmark = pytest.mark.unit


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    with console_hub(tmp_path) as made:
        yield made


@pytest.fixture
def client(hub: Hub) -> TestClient:
    return TestClient(create_app(hub), follow_redirects=False)


def _bearer(hub: Hub, role: Role, scope: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token(hub, role, scope)}"}


@pytest.mark.parametrize("role", [Role.MONITOR, Role.OPERATOR, Role.AUDITOR, Role.ADMIN])
def test_region_wide_principals_read_the_metrics(hub: Hub, client: TestClient, role: Role) -> None:
    reply = client.get("/metrics", headers=_bearer(hub, role, "*"))
    assert reply.status_code == 200, reply.text
    assert "hub_messages_received_total" in reply.text


@pytest.mark.parametrize(
    ("role", "scope"),
    [(Role.OPERATOR, SCHOOL_A), (Role.MONITOR, SCHOOL_A), (Role.AUDITOR, "45201")],
)
def test_a_scoped_token_is_refused_and_the_refusal_audited(
    hub: Hub, client: TestClient, role: Role, scope: str
) -> None:
    reply = client.get("/metrics", headers=_bearer(hub, role, scope))
    assert reply.status_code == 403
    assert "hub_" not in reply.text  # not one counter
    [denial] = [e for e in hub.journal.audit_log(20) if e.action == "denied"]
    assert denial.target == "metrics" and f"{role.value}@{scope}" in denial.actor
    assert denial.details["action"] == "metrics"
