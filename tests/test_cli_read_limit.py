"""Every command that reads a file the user names reads at most the limit and one byte:
/dev/zero, an endless pipe or standard input that never ends is refused with a clear error
and exit code 2, in a process whose memory is bounded to 1 GiB (reading whole would need
more: the old commands reached 11-13 GB)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[1]
MEMORY = 1 << 30
ZERO = "/dev/zero"


def _bounded_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def hub(
    *args: str | Path, stdin: IO[bytes] | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *map(str, args)],
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env={**os.environ, "HUB_LOG_FORMAT": "json", "HUB_ADAPTERS": "[]", **(env or {})},
        preexec_fn=_bounded_memory,
        timeout=300,
        check=False,
        cwd=PROJECT,
    )


def refused(result: subprocess.CompletedProcess[str], what: str = ZERO) -> None:
    assert result.returncode == 2, result.stderr
    assert f"hub: error: {what}: larger than the limit of" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr


@pytest.fixture(scope="module")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("keys")
    made = hub("keys", "generate", "--out-dir", folder)
    assert made.returncode == 0, made.stderr
    return folder / "key.pem", folder / "cert.pem"


@pytest.mark.parametrize(
    "args",
    [
        ("translate", ZERO),
        ("translate", "--command", ZERO),
        ("smev", "inspect", ZERO),
        ("smev", "inspect", "--json", ZERO),
        ("smev", "verify", ZERO),
        ("simulator", "serve", "--system", f"HUB={ZERO}"),
    ],
    ids=" ".join,
)
def test_dev_zero_is_refused_as_too_large(args: tuple[str, ...]) -> None:
    refused(hub(*args))


def test_signing_refuses_dev_zero_as_message_key_or_certificate(
    key_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    key, cert = key_pair
    refused(hub("smev", "sign", ZERO, "--key", key, "--cert", cert))
    message = tmp_path / "message.xml"
    message.write_text("<x/>")
    for bad in (("--key", ZERO, "--cert", cert), ("--key", key, "--cert", ZERO)):
        result = hub("smev", "sign", message, *bad)
        assert result.returncode == 2 and f"{ZERO}: larger than the limit" in result.stderr


def test_standard_input_is_bounded_too() -> None:
    with open(ZERO, "rb") as endless:
        refused(hub("translate", "-", stdin=endless), "standard input")
    with open(ZERO, "rb") as endless:
        refused(hub("smev", "inspect", "-", stdin=endless), "standard input")


@pytest.fixture
def endless_fifo(tmp_path: Path) -> Iterator[Path]:
    """A FIFO a writer keeps filling until the reader goes away."""
    fifo = tmp_path / "endless"
    os.mkfifo(fifo)

    def write() -> None:
        try:
            with fifo.open("wb") as pipe:
                while True:
                    pipe.write(b"<" * 65536)
        except (BrokenPipeError, OSError):
            return

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    yield fifo
    writer.join(timeout=30)
    assert not writer.is_alive()


def test_an_endless_fifo_is_refused(endless_fifo: Path) -> None:
    refused(hub("translate", endless_fifo, env={"HUB_XML_MAX_BYTES": "100000"}), str(endless_fifo))


def test_a_command_from_standard_input_is_read_whole(tmp_path: Path) -> None:
    person = {
        "name": {"last": "Иванова", "first": "Анна"},
        "birth_date": "2015-04-12",
        "sex": "female",
    }
    document = {"kind": "birth_certificate", "series": "IV-АН", "number": "123456"}
    command = {
        "type": "verify_snils",
        "request_id": "r-1",
        "person_id": "p-1",
        "role": "student",
        "person": person,
        "document": document,
    }
    given = tmp_path / "command.json"
    given.write_text(json.dumps(command, ensure_ascii=False), encoding="utf-8")
    with given.open("rb") as stdin:
        result = hub("translate", "--json", "--command", "-", stdin=stdin)
    assert result.returncode == 0, result.stderr
    [request] = [json.loads(line) for line in result.stdout.splitlines()]
    assert request["agency"] == "pfr" and "Иванова".upper() in request["content"].upper()
