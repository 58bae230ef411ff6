"""The rules every test of tests/ and contract_tests/ runs under (the root conftest.py loads this
plugin): each test carries its tier marker."""

from __future__ import annotations

import pytest

# The markers `-m` selects tiers by (pyproject.toml declares them); `slow` is a cost, not a tier.
TIERS = frozenset({"unit", "contract", "integration"})


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
