"""A bare clone, nothing beside it: the demo and the simulator run without the official
schemas (which the project never ships), say once which checks are off, and run the rest."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hub.reference import SMEV_ENVELOPE, OfficialSchemas, usable_xsd_dir

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[1]
DEMO = ["demo", "--students", "24", "--applications", "6"]


def _clean_env(**extra: str) -> dict[str, str]:
    # No HUB_ setting of the caller's may point the child at the reference folder.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    return {**env, "COLUMNS": "120", **extra}


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
        check=False,
    )


def _assert_demo_ran_bare(done: subprocess.CompletedProcess[str]) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "every message accounted for" in done.stdout
    off = [line for line in output.splitlines() if "checks off" in line]
    assert len(off) == 1, off
    assert SMEV_ENVELOPE in off[0] and "every other check runs" in off[0]
    # The bad messages are still refused: the checks that need no schema all ran.
    assert re.search(r"failed: SignatureError\s+│\s+1 ", done.stdout)
    assert re.search(r"failed: UntrustedSignerError\s+│\s+2 ", done.stdout)
    assert "ConfigurationError" not in output and "Traceback" not in output


def test_the_demo_runs_with_an_empty_reference_folder(tmp_path: Path) -> None:
    empty, cwd = tmp_path / "reference", tmp_path / "elsewhere"
    empty.mkdir()
    cwd.mkdir()  # its ../shared (tmp_path/shared) does not exist either
    done = _run(DEMO, cwd, _clean_env(HUB_REFERENCE_DIR=str(empty)))
    _assert_demo_ran_bare(done)


def test_the_demo_runs_from_a_bare_clone(tmp_path: Path) -> None:
    clone = tmp_path / "hub"
    subprocess.run(
        ["git", "clone", "--quiet", f"file://{PROJECT}", str(clone)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert not (tmp_path / "shared").exists()  # the default HUB_REFERENCE_DIR, ../shared
    env = _clean_env(PYTHONPATH=str(clone))
    where = subprocess.run(
        [sys.executable, "-c", "import hub; print(hub.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=clone,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(clone)  # the clone's code runs
    _assert_demo_ran_bare(_run(DEMO, clone, env))


def test_every_schema_present_turns_nothing_off(reference_dir: Path) -> None:
    official = OfficialSchemas(reference_dir, reference_dir / "smev" / "xsd")
    assert official.missing() == () and official.checks_off() is None
    assert usable_xsd_dir(reference_dir / "smev" / "xsd") == reference_dir / "smev" / "xsd"


def test_a_folder_missing_one_version_turns_the_envelope_check_off(
    reference_dir: Path, tmp_path: Path
) -> None:
    partial = tmp_path / "xsd"
    partial.mkdir()
    for file in (reference_dir / "smev" / "xsd").glob("*1.3*.xsd"):
        (partial / file.name).write_bytes(file.read_bytes())
    assert usable_xsd_dir(partial) is None
    official = OfficialSchemas(reference_dir, partial)
    assert official.missing() == (SMEV_ENVELOPE,)
    assert str(partial) in (official.checks_off() or "")
