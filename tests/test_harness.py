"""tests/harness.py, run on small test files of its own: a test without its tier marker fails
the collection (even when ``-m`` would deselect it)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit

MARKERS = """
[pytest]
markers =
    unit: u
    contract: c
    integration: i
"""


def run_with_harness(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makeini(MARKERS)
    return pytester.runpytest("-p", "tests.harness", *args)


@pytest.mark.parametrize("selection", [(), ("-m", "unit"), ("--collect-only",)])
def test_a_test_without_a_tier_fails_the_collection(
    pytester: pytest.Pytester, selection: tuple[str, ...]
) -> None:
    pytester.makepyfile(
        test_tiers="""
        import pytest

        @pytest.mark.unit
        def test_marked(): pass

        def test_forgotten(): pass
        """
    )
    result = run_with_harness(pytester, *selection)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_tiers.py::test_forgotten: no tier marker*"])
    assert "test_marked" not in result.stderr.str()


def test_unit_and_integration_together_fail_and_contract_with_integration_passes(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_tiers="""
        import pytest

        pytestmark = pytest.mark.unit

        @pytest.mark.integration
        def test_both(): pass
        """,
        test_contract="""
        import pytest

        pytestmark = [pytest.mark.contract, pytest.mark.integration]

        def test_on_a_real_service(): pass
        """,
    )
    result = run_with_harness(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_tiers.py::test_both: both unit and integration*"])
    assert "test_on_a_real_service" not in result.stderr.str()


def test_marked_tests_run_as_before(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_tiers="""
        import pytest

        @pytest.mark.unit
        def test_a(): pass

        @pytest.mark.integration
        def test_b(): pass
        """
    )
    run_with_harness(pytester, "-m", "unit").assert_outcomes(passed=1, deselected=1)
