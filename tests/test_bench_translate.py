"""``hub bench --suite translate`` on a handful of inputs: what it measures and prints, not
how fast (that depends on the machine)."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree
from rich.console import Console

from hub.adapters.gate import AgencySchemaError
from hub.adapters.zags.schemas import validate as validate_zags
from hub.bench.translate import (
    KINDS,
    STAGES,
    Result,
    gates,
    measure,
    stages,
    table,
    zags_samples,
)
from hub.canonical.jsonschemas import validate_event
from hub.config import Settings
from hub.xml import parse_xml

PROJECT = Path(__file__).resolve().parents[1]
EXPECTED_OUTCOMES = {
    "zags": {"student.birth.verified", "student.birth.mismatch", "student.birth.not_found"},
    "pfr": {"person.snils.verified", "person.snils.mismatch", "person.snils.not_found"},
    "gosuslugi": {"enrollment.application.received"},
}


@pytest.fixture(scope="module")
def results() -> list[Result]:
    gated = gates()
    return [measure(kind, build(12), 2, gated[kind]) for kind, (_label, build) in KINDS.items()]


@pytest.mark.unit
def test_every_kind_is_measured_at_every_stage(results: list[Result]) -> None:
    assert [r.kind for r in results] == ["zags", "pfr", "gosuslugi"]
    for result in results:
        assert result.messages == 12 and result.payload_bytes > 300
        assert sum(result.outcomes.values()) == 12  # one event per message, none lost
        assert list(result.rates) == list(STAGES)
        for rate in result.rates.values():
            assert math.isfinite(rate.median) and 0 < rate.low <= rate.median <= rate.high


@pytest.mark.unit
def test_the_table_has_a_row_per_kind_and_stage(results: list[Result]) -> None:
    console = Console(file=io.StringIO(), width=120)
    console.print(table(results, rounds=2))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "hub bench: translation, one core (rounds: 2)" in text
    assert all(kind in text for kind in KINDS)
    assert text.count("translate") == 6  # one row per kind and stage
    assert text.count("bytes → CloudEvent") == 3 and text.count("→ CloudEvent") == 9
    assert text.count("bytes → gate → CloudEvent") == 3  # the gate on and off side by side


@pytest.mark.unit
@pytest.mark.parametrize("kind", list(KINDS))
def test_inputs_are_distinct_varied_and_make_valid_events(kind: str) -> None:
    samples = KINDS[kind][1](30)  # three turns of every variant
    assert len({s.payload for s in samples}) == 30
    made: Counter[str] = Counter()
    for sample in samples:
        # the full path: parse, the intake gate, translate, envelope
        for payload in stages(kind, gates()[kind])["gated"](sample):
            event = json.loads(payload)
            validate_event(event)  # what is timed is what the registry would get
            made[event["type"]] += 1
    assert set(made) == EXPECTED_OUTCOMES[kind]
    assert sum(made.values()) == 30


@pytest.mark.unit
def test_zags_answers_are_what_the_official_schema_allows(reference_dir: Path) -> None:
    for sample in zags_samples(20):
        validate_zags(sample.element, reference_dir)


@pytest.mark.unit
@pytest.mark.parametrize("kind", list(KINDS))
def test_the_gated_stage_runs_the_official_schemas_and_refuses_what_breaks_them(
    kind: str, reference_dir: Path
) -> None:
    gate = gates(Settings(reference_dir=reference_dir))[kind]
    [sample] = KINDS[kind][1](1)
    broken = parse_xml(sample.payload)
    broken.append(etree.Element("{urn://foreign/1.0}Extra"))  # no schema allows it
    with pytest.raises(AgencySchemaError):
        payload = etree.tostring(broken, encoding="UTF-8")
        stages(kind, gate)["gated"](replace(sample, payload=payload))


@pytest.mark.integration  # a real process, as test_cli.py runs the command
def test_the_command_prints_the_figures() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hub",
            "bench",
            "--suite",
            "translate",
            "--inputs",
            "10",
            "--rounds",
            "1",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert result.returncode == 0, result.stderr
    assert "zags: 10 × ROGDINFResponse → birth event" in result.stdout
    assert "gosuslugi: 10 × ApplicationRequest" in result.stdout
    assert "hub bench: translation, one core (rounds: 1)" in result.stdout
    assert "smev" not in result.stdout.lower() and "backbone" not in result.stdout.lower()
