"""``hub config`` prints the effective settings with every secret masked: passwords in URLs
(``user:pass@`` and libpq query parameters such as ``password`` and ``sslpassword``), and any
setting whose name says key, secret, token, password or pin (file paths stay: a path says
where a secret is, not what it is)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from hub.config import Settings

pytestmark = pytest.mark.unit
MASK = "********"

LIBPQ = (
    "postgresql+psycopg://hub:s3cr%40t-user@db.internal:5432/hub"
    "?sslmode=verify-full&password=PW-IN-QUERY&sslpassword=SSL-PW&passfile=/etc/hub/pgpass"
    "&sslkey=/etc/hub/client.key&application_name=hub"
)


def test_a_libpq_url_keeps_no_password() -> None:
    shown = Settings(database_url=LIBPQ).masked()["database_url"]
    for secret in ("s3cr%40t-user", "s3cr@t-user", "PW-IN-QUERY", "SSL-PW"):
        assert secret not in shown
    for kept in (
        "hub:********@db.internal:5432/hub",
        "sslmode=verify-full",
        "password=********",
        "sslpassword=********",
        "passfile=/etc/hub/pgpass",
        "sslkey=/etc/hub/client.key",
        "application_name=hub",
    ):
        assert kept in shown, shown


@pytest.mark.parametrize(
    "url",
    [
        "amqp://guest:GUEST-PW@rabbit:5672/vhost",
        "amqps://user:p%3Aw%2FSECRET@rabbit/?heartbeat=30",
        "postgresql://db/hub?user=hub&password=SECRET;sslpassword=SECRET",
        "host=db dbname=hub user=hub password=SECRET",  # libpq's key=value form
        "https://hub:SECRET@smev.example/ws?token=SECRET&api_key=SECRET",
    ],
)
def test_every_url_like_value_is_masked(url: str) -> None:
    endpoint = {"smev_endpoint": url} if url.startswith("https:") else {}
    settings = Settings(database_url=url, broker_url=url, **endpoint)
    shown = json.dumps(settings.masked())
    for secret in ("GUEST-PW", "SECRET", "p%3Aw%2F"):
        assert secret not in shown, shown


def test_settings_named_as_secrets_are_masked_paths_and_ids_are_not() -> None:
    shown = Settings(
        index_key="INDEX-SECRET",
        encryption_keys="k1:" + "A" * 43 + "=",
        encryption_key_id="k1",
        signing_key="/etc/hub/key.pem",
        tls_key="/etc/hub/tls.key",
    ).masked()
    assert shown["index_key"] == shown["encryption_keys"] == MASK
    assert shown["encryption_key_id"] == "k1"
    assert (shown["signing_key"], shown["tls_key"]) == ("/etc/hub/key.pem", "/etc/hub/tls.key")


def test_hub_config_prints_it_masked() -> None:
    result = CliRunner().invoke(app, ["config"], env={"HUB_DATABASE_URL": LIBPQ})
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert "PW-IN-QUERY" not in result.output and "s3cr" not in result.output
    assert printed["database_url"].startswith("postgresql+psycopg://hub:********@db.internal")
