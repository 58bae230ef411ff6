"""Start-up checks: every file a service needs is there before it starts, or the command
stops at once with one line naming each missing file by its setting.

Without them a missing key, certificate or schema showed itself late: as a traceback from a
service's thread, as every message failing, or as a supervisor restarting a child forever.
``hub health`` reports the same list (its ``files`` check).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path

from hub.adapters.gosuslugi import schemas as gosuslugi
from hub.adapters.zags import schemas as zags
from hub.bootstrap import Hub
from hub.config import Settings
from hub.errors import ConfigurationError

WORKER, RELAY, SMEV_CLIENT, CONSOLE = "worker", "relay", "smev_client", "console"
# The services that read agency messages (and so the hub's own schemas and the pinned
# certificates): the relay only moves events.
_READERS = frozenset({WORKER, SMEV_CLIENT, CONSOLE})

Need = tuple[str, Path]  # the setting that names a file, and the file


def own_schemas(schemas_dir: Path) -> tuple[Path, ...]:
    """The hub's own schemas its adapters check messages against, in ``schemas_dir``
    (``HUB_SCHEMAS_DIR``)."""
    notices = (zags.own_xsd_path(kind, schemas_dir) for kind in zags.NOTICES.values())
    gosuslugi_schemas = (gosuslugi.ENROLLMENT_SCHEMA, gosuslugi.ORDER_STATUS_SCHEMA)
    return (*(schemas_dir / schema for schema in gosuslugi_schemas), *notices)


def needed_files(settings: Settings, services: Collection[str]) -> list[Need]:
    """Every file ``services`` read at start or on their first message, by setting."""
    needs: list[Need] = [*_broker_files(settings)]
    if _READERS & set(services):
        needs += _own_schemas(settings.schemas_dir)
        needs += [("HUB_TRUSTED_CERTIFICATES", p) for p in settings.trusted_certificates]
    if SMEV_CLIENT in services:
        needs += _given(
            ("HUB_SIGNING_KEY", settings.signing_key), ("HUB_SIGNING_CERT", settings.signing_cert)
        )
    if CONSOLE in services:
        needs += _given(
            ("HUB_TLS_CERT", settings.tls_cert),
            ("HUB_TLS_KEY", settings.tls_key),
            ("HUB_TLS_CLIENT_CA", settings.tls_client_ca),
        )
    return needs


def _own_schemas(folder: Path) -> list[Need]:
    if not folder.is_dir():  # the folder itself, not each file in it
        return [("HUB_SCHEMAS_DIR", folder)]
    return [("HUB_SCHEMAS_DIR", path) for path in own_schemas(folder)]


def _broker_files(settings: Settings) -> list[Need]:
    return _given(
        ("HUB_BROKER_TLS_CA", settings.broker_tls_ca),
        ("HUB_BROKER_TLS_CERT", settings.broker_tls_cert),
        ("HUB_BROKER_TLS_KEY", settings.broker_tls_key),
    )


def _given(*settings: tuple[str, Path | None]) -> list[Need]:
    return [(name, path) for name, path in settings if path is not None]


def missing_files(settings: Settings, services: Collection[str]) -> list[str]:
    """``SETTING=PATH`` of each needed file that is not a readable file."""
    return [f"{name}={path}" for name, path in needed_files(settings, services) if _absent(path)]


def _absent(path: Path) -> bool:
    try:
        with path.open("rb"):
            return not path.is_file()
    except OSError:
        return True


def preflight(hub: Hub, services: Collection[str]) -> None:
    """Raise ``ConfigurationError`` (one line) unless every file ``services`` need is there
    and loads: keys, certificates and schemas are read now, in the main thread, never first
    by a service's thread."""
    settings = hub.settings
    if CONSOLE in services and (settings.tls_cert is None) != (settings.tls_key is None):
        # Half a pair is the mistake to name, more than the half that is missing.
        raise ConfigurationError("HTTPS needs both HUB_TLS_CERT and HUB_TLS_KEY")
    missing = missing_files(settings, services)
    if missing:
        what = "missing file" if len(missing) == 1 else "missing files"
        raise ConfigurationError(f"{what}: {'; '.join(missing)}", files=len(missing))
    list(_loaded(hub, services))


def _loaded(hub: Hub, services: Collection[str]) -> Iterator[object]:
    # Building a part reads its files (and says what is wrong with them).
    if _READERS & set(services):
        yield hub.trusted_certificates
    if SMEV_CLIENT in services:
        yield hub.signer
        yield hub.transport
