"""``hub demo``: the main job end to end, as a newcomer runs it (scaled down)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from hub.demo import Demo, DemoError, Scenario

pytestmark = pytest.mark.integration


def test_the_demo_accounts_for_every_message(reference_dir: Path, fast_backend: object) -> None:
    env = {**os.environ, "HUB_REFERENCE_DIR": str(reference_dir), "COLUMNS": "120"}
    done = subprocess.run(
        [sys.executable, "-m", "hub", "demo", "--students", "24", "--applications", "6"],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "every message accounted for" in out
    assert re.search(r"applications received\s+│\s+6 ", out)
    assert re.search(r"status changes delivered\s+│\s+6 ", out)
    assert re.search(r"failed: UntrustedSignerError\s+│\s+2 ", out)
    assert re.search(r"replayed after the fix\s+│\s+2 ", out)
    assert re.search(r"discarded \(agency resent\)\s+│\s+1 ", out)
    # SMEV takes one check, then rejects it asynchronously: settled as rejected, nothing stops
    assert re.search(r"check rejected by SMEV \(SMEV-403\), settled\s+│\s+1 ", out)
    # The progress and the summary show counts, never a child's data.
    assert not re.search(r"\d{3}-\d{3}-\d{3} \d{2}", out)  # a SNILS
    assert not re.search(r"[А-ЯЁ][а-яё]+ов(а)?\b", out)  # a surname


def test_a_stage_that_does_not_finish_fails_the_demo(
    reference_dir: Path, fast_backend: object, tmp_path: Path
) -> None:
    scenario = Scenario(students=12, applications=5, timeout=0.2)
    demo = Demo(scenario, fast_backend, reference_dir, Console(file=open(os.devnull, "w")))  # type: ignore[arg-type]  # noqa: SIM115
    with pytest.raises(DemoError, match="did not finish"):
        demo.run(tmp_path)
