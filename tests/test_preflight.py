"""Fail fast: a file a service needs (schema, key, certificate, pinned certificate, TLS file)
that is missing stops the command at start-up, in one line naming the setting and the file,
with a non-zero exit: never a traceback from a service's thread, never a timeout later.
``hub health`` reports the same files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub.config import Settings
from hub.preflight import missing_files, needed_files, own_schemas

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[1]
GONE = "/nonexistent/hub-test"
ENDPOINT = "http://127.0.0.1:9/smev/1.3"  # never reached: the command stops before


def _hub(
    *args: str, env: dict[str, str], cwd: Path
) -> tuple[subprocess.CompletedProcess[str], float]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    base = {"HUB_DATABASE_URL": f"sqlite:///{cwd / 'hub.db'}", "HUB_LOG_FORMAT": "json"}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "hub", *args],
        capture_output=True,
        text=True,
        env={**clean, **base, **env},
        cwd=cwd,
        timeout=60,
        check=False,
    )
    return done, time.monotonic() - started


def _error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("hub: error:")]
    assert len(errors) == 1, done.stderr[-2000:]
    return errors[0]


def _keys(tmp_path: Path) -> tuple[Path, Path]:
    out = tmp_path / "keys"
    subprocess.run(
        [sys.executable, "-m", "hub", "keys", "generate", "--out-dir", str(out)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
        timeout=60,
    )
    return out / "key.pem", out / "cert.pem"


CASES = [
    (
        "worker",
        {"HUB_TRUSTED_CERTIFICATES": f'["{GONE}/smev.pem"]'},
        f"missing file: HUB_TRUSTED_CERTIFICATES={GONE}/smev.pem",
    ),
    ("worker", {"HUB_SCHEMAS_DIR": GONE}, f"missing file: HUB_SCHEMAS_DIR={GONE}"),
    (
        "relay",
        {"HUB_BROKER_URL": "amqps://127.0.0.1:9//", "HUB_BROKER_TLS_CA": f"{GONE}/ca.pem"},
        f"missing file: HUB_BROKER_TLS_CA={GONE}/ca.pem",
    ),
    (
        "smev-client",
        {
            "HUB_SMEV_ENDPOINT": ENDPOINT,
            "HUB_SIGNING_KEY": f"{GONE}/key.pem",
            "HUB_SIGNING_CERT": f"{GONE}/cert.pem",
        },
        f"missing files: HUB_SIGNING_KEY={GONE}/key.pem; HUB_SIGNING_CERT={GONE}/cert.pem",
    ),
    (
        "console",
        {"HUB_TLS_CERT": f"{GONE}/tls.pem", "HUB_TLS_KEY": f"{GONE}/tls.key"},
        f"missing files: HUB_TLS_CERT={GONE}/tls.pem; HUB_TLS_KEY={GONE}/tls.key",
    ),
]


@pytest.mark.parametrize(("command", "env", "says"), CASES)
def test_a_missing_file_stops_the_service_at_once(
    tmp_path: Path, command: str, env: dict[str, str], says: str
) -> None:
    done, took = _hub(command, env=env, cwd=tmp_path)
    assert done.returncode == 2 and took < 20
    assert _error_line(done) == f"hub: error: {says}"


def test_hub_run_checks_before_starting_any_process(tmp_path: Path) -> None:
    # A broker on a closed port: the check comes first, so it cannot wait for the broker.
    env = {
        "HUB_BROKER_URL": "amqp://guest:guest@127.0.0.1:9//",
        "HUB_SMEV_ENDPOINT": ENDPOINT,
        "HUB_SIGNING_KEY": f"{GONE}/key.pem",
        "HUB_SIGNING_CERT": f"{GONE}/cert.pem",
    }
    done, took = _hub("run", env=env, cwd=tmp_path)
    assert done.returncode == 2 and took < 20
    assert _error_line(done).startswith(f"hub: error: missing files: HUB_SIGNING_KEY={GONE}")
    assert "child started" not in done.stderr and "service started" not in done.stderr


def test_a_file_that_is_no_certificate_is_named(tmp_path: Path) -> None:
    garbage = tmp_path / "smev.pem"
    garbage.write_text("not a certificate")
    done, _ = _hub("worker", env={"HUB_TRUSTED_CERTIFICATES": f'["{garbage}"]'}, cwd=tmp_path)
    assert done.returncode == 2
    assert _error_line(done).startswith(f"hub: error: HUB_TRUSTED_CERTIFICATES={garbage}: ")


def test_a_key_that_is_no_key_is_named(tmp_path: Path) -> None:
    _, cert = _keys(tmp_path)
    env = {
        "HUB_SMEV_ENDPOINT": ENDPOINT,
        "HUB_SIGNING_KEY": str(cert),
        "HUB_SIGNING_CERT": str(cert),
    }
    done, _ = _hub("smev-client", env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert _error_line(done).startswith(f"hub: error: HUB_SIGNING_KEY={cert}: ")


def test_health_reports_the_missing_files(tmp_path: Path) -> None:
    key, cert = _keys(tmp_path)
    env = {
        "HUB_SMEV_ENDPOINT": ENDPOINT,
        "HUB_SIGNING_KEY": str(key),
        "HUB_SIGNING_CERT": str(cert),
        "HUB_TRUSTED_CERTIFICATES": f'["{GONE}/smev.pem"]',
    }
    done, _ = _hub("health", "--json", "--check", "files", env=env, cwd=tmp_path)
    assert done.returncode == 1
    files = json.loads(done.stdout)["checks"]["files"]
    assert files == {"status": "missing", "detail": f"HUB_TRUSTED_CERTIFICATES={GONE}/smev.pem"}
    env["HUB_TRUSTED_CERTIFICATES"] = f'["{cert}"]'
    done, _ = _hub("health", "--json", "--check", "files", env=env, cwd=tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout)["checks"]["files"]["status"] == "ok"


def test_each_service_needs_its_own_files(tmp_path: Path) -> None:
    settings = Settings(
        signing_key=tmp_path / "k",
        signing_cert=tmp_path / "c",
        tls_cert=tmp_path / "t",
        tls_key=tmp_path / "tk",
        trusted_certificates=(tmp_path / "s",),
    )
    names = lambda services: {name for name, _ in needed_files(settings, services)}  # noqa: E731
    assert names(["relay"]) == set()
    assert names(["worker"]) == {"HUB_SCHEMAS_DIR", "HUB_TRUSTED_CERTIFICATES"}
    assert {"HUB_SIGNING_KEY", "HUB_SIGNING_CERT"} <= names(["smev_client"])
    assert {"HUB_TLS_CERT", "HUB_TLS_KEY"} <= names(["console"])
    assert all(path.is_file() for path in own_schemas(settings.schemas_dir))  # the project's
    assert missing_files(Settings(), ["worker", "relay", "console"]) == []
