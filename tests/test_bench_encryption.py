"""``hub bench --suite encryption`` measures both modes on real journals."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from hub.bench.encryption import PATHS, measure, sealing_cost
from hub.journal.schema import inbox

pytestmark = pytest.mark.unit


def test_both_modes_run_every_path_on_their_own_database(tmp_path: Path) -> None:
    urls = {mode: f"sqlite:///{tmp_path / f'{mode}.db'}" for mode in ("plain", "sealed")}
    results = measure(urls, 200, rounds=1)
    assert [name for name, _, _ in results] == list(PATHS)
    assert all(plain > 0 and sealed > 0 for _, plain, sealed in results)
    for mode, expected in (("plain", {"plain"}), ("sealed", {"bench"})):
        engine = create_engine(urls[mode])
        with engine.connect() as connection:
            assert set(connection.execute(select(inbox.c.key_id)).scalars()) == expected
            assert len(connection.execute(select(inbox)).all()) == 400  # 200 per path
        engine.dispose()
    assert sealing_cost(50) > 0
