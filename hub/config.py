"""Settings: environment variables prefixed ``HUB_`` (and a ``.env`` file)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, StringConstraints, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.paths import PROJECT_SCHEMAS_DIR
from hub.xml.parser import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, DEFAULT_MAX_PARTS

SmevVersion = Literal["1.1", "1.2", "1.3"]
RoutingKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]
_MASK = "********"


class Settings(BaseSettings):
    """Everything the hub can be told from outside; ``hub config`` prints it."""

    model_config = SettingsConfigDict(
        env_prefix="HUB_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: SecretStr = Field(
        SecretStr("sqlite:///hub.db"),
        description="SQLAlchemy URL: sqlite:///file.db (embedded) or postgresql+psycopg://…",
    )
    database_timeout: float = Field(
        30.0,
        ge=0,
        description="seconds a PostgreSQL statement or commit may take before the hub counts "
        "the database as unavailable and retries (0: no limit)",
    )
    broker_url: SecretStr = Field(
        SecretStr("memory://"),
        description="kombu URL: memory:// (in-process) or amqp://user:pass@host:5672/vhost",
    )
    topology_prefix: str = Field("hub", pattern=r"^[a-z][a-z0-9_-]*$", description="name prefix")
    agencies: tuple[str, ...] = Field(
        ("zags", "pfr", "gosuslugi"), description="agencies with a work queue each"
    )
    registry_queue: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.:-]*$",
        max_length=255,
        description="full name of the registry's durable queue on the events exchange; "
        "none: <prefix>.registry; '' declares none (events no queue is bound for are parked)",
    )
    registry_bindings: tuple[RoutingKey, ...] = Field(
        ("#",),
        min_length=1,
        description="routing keys the registry's queue is bound with (# for every event)",
    )
    adapters: tuple[str, ...] = Field(
        (), description="extra adapter plug-ins: 'module:function' taking the Router"
    )
    require_signatures: bool = Field(
        True, description="refuse SMEV messages without a valid signature"
    )
    retry_budget: int = Field(8, ge=1, description="attempts before a passing failure is kept")
    retry_delays: tuple[int, ...] = Field(
        (1, 5, 30, 120, 600), min_length=1, description="seconds between retries (broker queues)"
    )
    worker_batch: int = Field(100, ge=1, le=1000, description="messages per worker batch")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING, ERROR")
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto: console on a terminal, JSON otherwise"
    )
    xml_max_bytes: int = Field(DEFAULT_MAX_BYTES, gt=0, description="largest XML message accepted")
    xml_max_depth: int = Field(DEFAULT_MAX_DEPTH, gt=1, le=250, description="deepest XML nesting")
    xml_max_parts: int = Field(
        DEFAULT_MAX_PARTS, ge=1, description="most MIME parts of an MTOM (multipart) message"
    )
    crypto_backend: Literal["auto", "openssl", "pure"] = Field(
        "auto", description="GOST implementation: OpenSSL's engine, pure Python, or auto"
    )
    trusted_certificates: tuple[Path, ...] = Field(
        (),
        description="certificate files (PEM/DER) whose signatures the hub accepts, SMEV's "
        "first; none: any valid signature (development only)",
    )
    signing_key: Path | None = Field(None, description="PEM PKCS#8 GOST private key file")
    signing_cert: Path | None = Field(None, description="X.509 certificate (PEM or DER) file")
    smev_version: SmevVersion = Field("1.3", description="SMEV message-exchange version to send")
    reference_dir: Path = Field(
        Path("../shared"), description="reference material (official SMEV schemas)"
    )
    smev_xsd_dir: Path | None = Field(
        None, description="official SMEV schemas; default <reference_dir>/smev/xsd"
    )
    schemas_dir: Path = Field(
        PROJECT_SCHEMAS_DIR,
        description="the hub's own schemas (ZAGS notices, Gosuslugi): schemas/ of the project; "
        "an installed package has none beside it (the Docker image sets /app/schemas)",
    )
    smev_endpoint: str | None = Field(
        None,
        pattern=r"^https?://",
        description="SMEV 3 SOAP endpoint of smev_version (none: no SMEV client runs)",
    )
    smev_node_id: str | None = Field(
        None, max_length=50, description="NodeID sent and polled for (one per hub deployment)"
    )
    smev_transaction_code: str | None = Field(
        None,
        min_length=1,
        max_length=1500,
        description="TransactionCode sent with the hub's requests, if SMEV assigned one "
        "(none: not sent; genuine 1.2 traffic carries none)",
    )
    smev_poll_interval: float = Field(
        1.0, gt=0, description="seconds between polls while SMEV's queues are empty"
    )
    smev_batch: int = Field(50, ge=1, le=1000, description="messages taken or sent per round")
    smev_resend_after: float = Field(
        30.0, gt=0, description="seconds before a request SMEV did not accept is sent again"
    )
    smev_timeout: float = Field(30.0, gt=0, description="seconds to wait for SMEV's answer")
    smev_status_every: float = Field(
        10.0, ge=0, description="seconds between reads of SMEV's delivery statuses (0: never)"
    )
    smev_rate_limits: dict[str, float] = Field(
        default_factory=dict,
        description='messages per second to SMEV, JSON: {"zags": 20, "pfr:snils": 5}',
    )
    smev_file_store: str | None = Field(
        None,
        pattern=r"^ftp://[^/@\s]+/?$",
        description="SMEV's file store, ftp://host[:port]: where documents too large for a "
        "message are fetched (the credentials come with each message)",
    )
    smev_file_max_bytes: int = Field(
        100 * 1024 * 1024, gt=0, description="largest document fetched from SMEV's file store"
    )
    zags_basis_code: str = Field(
        "01",
        pattern=r"^\w{2}$",
        description="ZAGS: legal basis code (СНПОСН) of the hub's access, sent as КодНормОсн",
    )
    zags_basis_document: str | None = Field(
        None,
        min_length=1,
        max_length=1000,
        description="ZAGS: the basis document sent as СведДокОсн (none: ПрСведДокОсн=1)",
    )

    # --- protection of personal data (issue 6) -----------------------------------------
    encryption_keys: SecretStr | None = Field(
        None,
        description="data keys for encryption at rest, 'ID:BASE64,ID:BASE64' (32-byte AES "
        "keys; `hub keys data-key` makes one); none: stored in clear (development only)",
    )
    encryption_key_id: str | None = Field(
        None, description="the key new rows are sealed with (default: the last listed)"
    )
    index_key: SecretStr | None = Field(
        None, description="secret for keyed hashes in indexes (default: derived from the keys)"
    )
    retention_days: int = Field(
        0, ge=0, description="days processed messages are kept (0: forever); failed: until resolved"
    )
    school_municipalities: dict[str, str] = Field(
        default_factory=dict,
        description='school organisation code → municipality (OKTMO), JSON: {"4520100012": '
        '"45201"}; gives Gosuslugi applications their scope',
    )
    console_host: str = Field("127.0.0.1", description="address `hub console` listens on")
    console_port: int = Field(8080, ge=0, le=65535, description="port of `hub console`")
    console_max_connections: int = Field(
        500, ge=1, description="connections `hub console` holds at once; more are answered 503"
    )
    console_client_connections: int = Field(
        20, ge=1, description="connections one client address may hold at once (the peer's)"
    )
    console_header_timeout: float = Field(
        10.0, gt=0, description="seconds a client has to send a request's headers"
    )
    console_body_timeout: float = Field(
        30.0, gt=0, description="seconds a client has to send a request's body"
    )
    tls_cert: Path | None = Field(
        None, description="PEM certificate (chain) the hub's HTTP endpoints serve; none: HTTP"
    )
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert")
    tls_client_ca: Path | None = Field(
        None,
        description="CA whose client certificates agency systems may present (mutual TLS)",
    )
    client_certificates: dict[str, str] = Field(
        default_factory=dict,
        description='client certificate SHA-256 → "role@scope" for mutual TLS, JSON; role '
        'agency names the agencies it posts for: "agency@scope:zags,pfr"',
    )
    broker_tls_ca: Path | None = Field(
        None, description="CA file to verify RabbitMQ's certificate (amqps://)"
    )
    broker_tls_cert: Path | None = Field(None, description="client certificate for RabbitMQ")
    broker_tls_key: Path | None = Field(None, description="client key for RabbitMQ")
    metrics_dir: Path | None = Field(
        None, description="folder where `hub run`'s processes share Prometheus metrics"
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    @property
    def effective_smev_xsd_dir(self) -> Path:
        return self.smev_xsd_dir or self.reference_dir / "smev" / "xsd"

    def masked(self) -> dict[str, Any]:
        """The effective settings as plain values, secrets replaced by asterisks: a setting
        whose name says key, secret, token, password or pin whole (a file path stays: it
        says where a secret is), passwords inside URLs and connection strings elsewhere."""
        shown = {name: _shown(name, value) for name, value in self.model_dump().items()}
        shown["effective_smev_xsd_dir"] = str(self.effective_smev_xsd_dir)
        return shown


# A name says it holds a secret: a word of it (key, pin, token, pass) or a part (password).
_SECRET_NAME = re.compile(
    r"(?:^|[_.-])(?:keys?|pins?|tokens?|pass|pwd)(?:$|[_.-])|password|passwd|passphrase|secret"
    r"|apikey",
    re.IGNORECASE,
)
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:@/\s]*:)(?P<password>[^@/\s]*)@", re.I)
# A URL's query parameter or a libpq "keyword=value" (password=..., sslpassword=...).
_PARAMETER = re.compile(
    r"(?P<head>(?:^|[?&;\s])(?P<name>[^=&;\s?#/]+)=)(?P<value>'(?:[^'\\]|\\.)*'|[^&;\s#]*)"
)
_PATH = re.compile(r"(?:/|~/|\./|\.\./)")


def _is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name)) and not name.endswith("_id")


def _shown(name: str, value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
        if not name.endswith("_url"):
            return _MASK if value else ""
    if isinstance(value, str):
        return _MASK if value and _is_secret_name(name) else _masked_text(value)
    if isinstance(value, dict):
        return {key: _shown(f"{name}.{key}", item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_shown(name, item) for item in value]
    return value


def _masked_text(text: str) -> str:
    """``text`` with the passwords of URLs (``user:password@``) and every secret-looking
    parameter (``password=``, ``sslpassword=``, ``token=``...) masked; paths stay."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{_MASK}@", text)
    return _PARAMETER.sub(_masked_parameter, text)


def _masked_parameter(match: re.Match[str]) -> str:
    value = match["value"].strip("'")
    if not value or not _is_secret_name(match["name"]) or _PATH.match(value):
        return match[0]
    return f"{match['head']}{_MASK}"
