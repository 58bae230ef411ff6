"""The rules every test of tests/ and contract_tests/ runs under (the root conftest.py loads this
plugin): each test carries its tier marker, and no test sees the settings of the shell or the
folder pytest was started from."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest

from hub.config import Settings

# The markers `-m` selects tiers by (pyproject.toml declares them); `slow` is a cost, not a tier.
TIERS = frozenset({"unit", "contract", "integration"})
# Not settings of the hub but where this machine keeps the reference material and the test
# services (conftest.py reads them): a developer's shell may need them, and they change no result.
_HARNESS_VARIABLE = re.compile(r"HUB_TEST_\w*|HUB_REFERENCE_DIR")


def tier_problem(item: pytest.Item) -> str | None:
    """Why ``item``'s markers would hide it from a run by tiers, or None."""
    tiers = {mark.name for mark in item.iter_markers()} & TIERS
    if not tiers:
        return "no tier marker (unit, contract or integration)"
    if {"unit", "integration"} <= tiers:
        return "both unit and integration (a unit test needs no service)"
    return None


@pytest.hookimpl(tryfirst=True)  # before -m deselects: an unmarked test must fail, not vanish
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    problems = [f"{item.nodeid}: {problem}" for item in items if (problem := tier_problem(item))]
    if problems:
        raise pytest.UsageError("tests without their tier:\n  " + "\n  ".join(problems))


@pytest.fixture(scope="session", autouse=True)
def _isolated_settings() -> Iterator[None]:
    """Every test starts from the hub's defaults: no ``HUB_*`` variable of the shell and no
    ``.env`` of the working directory (compose users keep HUB_ENCRYPTION_KEYS there). Session
    scope, so that module and session fixtures are isolated too; a test that wants a setting
    sets it itself (monkeypatch.setenv, ``Settings(...)``, a child process's env).

    A child process started with ``cwd`` at the project root still reads a ``.env`` there:
    Settings offers no switch for it that a child would inherit."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("HUB_")]:
            if not _HARNESS_VARIABLE.fullmatch(name):
                patch.delenv(name)
        patch.setitem(Settings.model_config, "env_file", None)
        yield
