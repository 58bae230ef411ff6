"""The composition root: settings are read there (and by the entry points) only, the parts a
test lends are named one by one, and nothing is built before it is used."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, fields
from pathlib import Path

import pytest

from hub.adapters import gosuslugi
from hub.adapters.gosuslugi.schemas import APPLICATION, STATUS_RESPONSE
from hub.adapters.router import Router
from hub.bootstrap import Hub, Overrides, bootstrap
from hub.config import Settings
from hub.paths import PROJECT_SCHEMAS_DIR
from hub.smev.transport import SmevReply

pytestmark = pytest.mark.unit


@dataclass
class LentTransport:
    """A transport the test owns: the hub may use it but must not close it."""

    closed: bool = False

    def call_raw(self, envelope: bytes) -> SmevReply:
        raise AssertionError("not called here")

    def close(self) -> None:
        self.closed = True


def test_a_misspelt_override_is_a_type_error() -> None:
    # Under **overrides this built the real signer from settings, silently.
    with pytest.raises(TypeError, match="key_signr"):
        bootstrap(Settings(), key_signr=object())  # type: ignore[call-arg]


def test_only_settings_is_positional_and_every_override_has_its_field() -> None:
    first, *lent = inspect.signature(bootstrap).parameters.values()
    assert first.name == "settings"
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in lent)
    assert {p.name for p in lent} == {field.name for field in fields(Overrides)}


def test_a_lent_part_is_used_and_left_open() -> None:
    transport = LentTransport()
    hub = bootstrap(Settings(), transport=transport)
    assert hub.transport is transport and hub.overrides.transport is transport
    hub.close()
    assert not transport.closed


def test_nothing_is_built_until_it_is_used(tmp_path: Path) -> None:
    hub = Hub(Settings(database_url=f"sqlite:///{tmp_path / 'never' / 'hub.db'}"))
    hub.close()  # nothing was opened, so nothing to close
    assert hub.overrides == Overrides()
    assert not {"journal", "bus", "router", "transport", "crypto"} & hub.__dict__.keys()
    assert not (tmp_path / "never").exists()


def test_the_schemas_folder_is_a_setting_hub_config_shows(tmp_path: Path) -> None:
    assert Settings().schemas_dir == PROJECT_SCHEMAS_DIR
    assert (PROJECT_SCHEMAS_DIR / "gosuslugi").is_dir()
    assert Settings(schemas_dir=tmp_path).masked()["schemas_dir"] == str(tmp_path)


def test_the_adapters_make_their_gates_from_the_settings_they_are_given(tmp_path: Path) -> None:
    router = Router(Settings(schemas_dir=tmp_path))
    gosuslugi.register(router)
    for name in (APPLICATION, STATUS_RESPONSE):
        assert router.gates[name].path.parent == tmp_path / "gosuslugi"  # type: ignore[attr-defined]
