"""tests/harness.py, run on small test files of its own: a test without its tier marker fails
the collection (even when ``-m`` would deselect it), and no test sees a stray ``HUB_*``
variable or a ``.env`` of the working directory."""

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


# The inner test: what Settings reads when a shell exported HUB_DATABASE_URL and the working
# directory (pytester's) has a .env naming a broker; the variable a test sets itself still counts.
SETTINGS_TEST = """
import os
import pytest
from hub.config import Settings

pytestmark = pytest.mark.unit

def test_defaults(monkeypatch):
    assert "HUB_DATABASE_URL" not in os.environ
    settings = Settings()
    assert settings.database_url.get_secret_value() == "sqlite:///hub.db"
    assert settings.broker_url.get_secret_value() == "memory://"
    monkeypatch.setenv("HUB_TOPOLOGY_PREFIX", "mine")
    assert Settings().topology_prefix == "mine"
"""


@pytest.fixture
def stray_settings(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql://stray@db/hub")
    pytester.path.joinpath(".env").write_text("HUB_BROKER_URL=amqp://stray@rabbit//\n")
    pytester.makepyfile(test_settings=SETTINGS_TEST)
    pytester.makeini(MARKERS)


@pytest.mark.usefixtures("stray_settings")
def test_a_stray_variable_or_env_file_does_not_reach_a_test(pytester: pytest.Pytester) -> None:
    pytester.runpytest("-p", "tests.harness").assert_outcomes(passed=1)


@pytest.mark.usefixtures("stray_settings")
def test_without_the_harness_they_would(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This session's harness switched the .env off for its whole run: switch it back on.
    from hub.config import Settings

    monkeypatch.setitem(Settings.model_config, "env_file", ".env")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert 'HUB_DATABASE_URL' not in *"])
    monkeypatch.delenv("HUB_DATABASE_URL")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)  # now the .env's broker fails it
    assert "amqp://stray@rabbit//" in result.stdout.str()
