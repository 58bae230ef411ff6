"""``hub simulator serve --profile``: the simulator as a user starts it, with real SMEV's
quirks (``genuine-quirks``) or without (``plain``)."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[1]


@contextmanager
def serving(*args: str) -> Iterator[str]:
    """``hub simulator serve ARGS`` in a child process; its base URL once it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "hub", "simulator", "serve", "--port", "0", *args],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "SMEV 3 simulator on http://…"
        assert line.startswith("SMEV 3 simulator on "), line
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0


def content_type_of_a_refusal(url: str) -> str:
    """The Content-Type of the simulator's answer to a call that is no SOAP at all."""
    request = urllib.request.Request(  # noqa: S310 - our own local server, over http
        f"{url}/smev/1.2", b"<nonsense/>", {"Content-Type": "text/xml"}, method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310 - our own local server
    assert refused.value.code == 500
    return refused.value.headers["Content-Type"]


def test_the_genuine_quirks_profile_answers_as_real_smev_in_mtom() -> None:
    with serving("--profile", "genuine-quirks") as url:
        assert content_type_of_a_refusal(url).startswith("multipart/related")


def test_an_explicit_mtom_setting_wins_over_the_profile() -> None:
    with serving("--profile", "genuine-quirks", "--mtom", "off") as url:
        assert content_type_of_a_refusal(url).startswith("text/xml")


def test_an_unknown_profile_is_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hub", "simulator", "serve", "--profile", "tidy"],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT,
    )
    assert result.returncode != 0 and "--profile 'tidy'" in result.stderr
