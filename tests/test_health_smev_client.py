"""``hub health`` says when the SMEV client keeps failing: its rounds never end it (issue 15,
item 2), so the failing-rounds gauge it writes to the shared metrics folder is what alerts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hub.services.health import SMEV_FAILING_LIMIT
from tests.test_health import health, http_server, sqlite, statuses

pytestmark = pytest.mark.integration
__all__ = ["http_server", "sqlite"]  # fixtures

_WRITE = """
import sys
from pathlib import Path
from hub.metrics import HubMetrics, _multiprocess
_multiprocess(Path(sys.argv[1]))
HubMetrics(shared=True).smev_failing_rounds("poll").set(float(sys.argv[2]))
"""


def _client_wrote(folder: Path, failures: int) -> None:
    """A process, as the SMEV client's, writes its failing-rounds gauge to ``folder``."""
    subprocess.run(
        [sys.executable, "-c", _WRITE, str(folder), str(failures)], check=True, timeout=60
    )


@pytest.mark.parametrize(("failures", "healthy"), [(0, True), (SMEV_FAILING_LIMIT, False)])
def test_a_smev_client_failing_round_after_round_is_unhealthy(
    sqlite: dict[str, str], tmp_path: Path, http_server: str, failures: int, healthy: bool
) -> None:
    folder = tmp_path / "metrics"
    _client_wrote(folder, failures)
    env = {**sqlite, "HUB_SMEV_ENDPOINT": http_server, "HUB_METRICS_DIR": str(folder)}
    code, report, _ = health(env=env, cwd=tmp_path)
    assert (code == 0) is healthy
    smev = report["checks"]["smev"]
    if healthy:
        assert statuses(report)["smev"] == "ok"
    else:
        assert smev["status"] == "failing"
        assert f"poll loop has failed {failures} rounds in a row" in smev["detail"]
