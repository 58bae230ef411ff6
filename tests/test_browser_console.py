"""The console in a real headless Chromium (Debian's, driven by Selenium) on 127.0.0.1.

Two schools' agency systems post bad messages over HTTP; the worker keeps them as failed. The
operator of school A logs in, finds the failed group, deploys the fix, replays the group and
sees it succeed; the operator (and the auditor) of school B then find none of A's messages,
groups or audit entries anywhere: not in lists, not at A's direct URLs.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from hub.access import Role
from hub.bootstrap import Hub
from hub.journal.records import FailedMessage
from tests.support.console import (
    SCHOOL_A,
    SCHOOL_B,
    SNILS,
    Served,
    console_hub,
    serving,
    token,
)
from tests.support.notices import LATE, NOTICE_NS, notice, register_late, running
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
STRAY = f"{{{NOTICE_NS}}}Stray"  # no adapter, before or after the fix
OTHER = f"{{{NOTICE_NS}}}Other"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser test cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists() or not (CHROMEDRIVER.exists() or shutil.which("chromedriver")):
        _unavailable("Debian's chromium/chromedriver are missing (apt-get install chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed (pip install -e .[dev])")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1000",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    with console_hub(tmp_path) as made:
        yield made


def post_bad_messages(hub: Hub, url: str, scope: str, tags: list[str]) -> list[FailedMessage]:
    """The school's agency system posts one notice per tag; the worker fails them all."""
    system = token(hub, Role.AGENCY, scope, name=f"system {scope[-4:]}")
    headers = {"authorization": f"Bearer {system}", "content-type": "text/xml"}
    ids = []
    for n, tag in enumerate(tags):
        body = notice(f"{SNILS} child {scope} {n}", n, tag=tag)
        reply = requests.post(f"{url}/inbound/zags", data=body, headers=headers, timeout=10)
        assert reply.status_code == 202, reply.text
        ids.append(reply.json()["inbox_id"])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        failed = [f for f in hub.journal.failed(limit=1000) if f.inbox_id in ids]
        if len(failed) == len(ids):
            return failed
        time.sleep(0.1)
    raise AssertionError("the worker did not keep the bad messages as failed")


def login(driver: Any, url: str, text: str) -> None:
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{url}/login")
    driver.find_element(By.ID, "token").send_keys(text)
    driver.find_element(By.ID, "login").click()
    wait_for(lambda: driver.find_elements(By.ID, "who"), 15)


def click(driver: Any, css: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, css).click()


def test_operators_work_their_own_school_and_see_nothing_of_another(browser: Any, hub: Hub) -> None:
    from selenium.webdriver.common.by import By

    with serving(hub) as served, running(hub.worker):
        a = post_bad_messages(hub, served.url, SCHOOL_A, [LATE, LATE, LATE, STRAY])
        b = post_bad_messages(hub, served.url, SCHOOL_B, [OTHER, OTHER])
        late = next(f.fingerprint for f in a if "Late" in f.reason)
        _school_a_replays(browser, hub, served, late)
        _school_b_sees_nothing_of_a(browser, hub, served, a, b)
        assert browser.find_elements(By.ID, "who")  # the session still works


def _school_a_replays(driver: Any, hub: Hub, served: Served, late: str) -> None:
    from selenium.webdriver.common.by import By

    login(driver, served.url, token(hub, Role.OPERATOR, SCHOOL_A, name="operator-a"))
    click(driver, "nav a[href='/failed']")
    groups = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "a.group")]
    assert late in groups and len(groups) == 2
    click(driver, f"a.group[href='/failed/groups/{late}']")
    click(driver, "a.message")
    assert SNILS not in driver.find_element(By.ID, "body").text  # masked
    driver.find_element(By.NAME, "reason").send_keys("ticket 7: which child?")
    click(driver, "#reveal")
    wait_for(lambda: driver.find_elements(By.ID, "revealed"), 15)
    assert SNILS in driver.find_element(By.ID, "body").text
    register_late(hub.router)  # the cause fixed: the adapter for these notices is deployed
    driver.get(f"{served.url}/failed/groups/{late}")
    click(driver, "#replay-group")
    assert "3 open failed messages" in driver.page_source
    click(driver, "#confirm")
    wait_for(lambda: driver.find_elements(By.ID, "results"), 15)
    outcomes = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "td.outcome")]
    assert outcomes == ["processed"] * 3
    click(driver, "nav a[href='/failed']")
    assert late not in driver.page_source  # the group is gone; the stray one stays


def _school_b_sees_nothing_of_a(
    driver: Any, hub: Hub, served: Served, a: list[FailedMessage], b: list[FailedMessage]
) -> None:
    from selenium.webdriver.common.by import By

    a_marks = {f.failed_id for f in a} | {f.fingerprint for f in a} | {f.inbox_id for f in a}
    login(driver, served.url, token(hub, Role.OPERATOR, SCHOOL_B, name="operator-b"))
    for path in ("/", "/failed", f"/failed/groups/{b[0].fingerprint}", "/outbound"):
        driver.get(f"{served.url}{path}")
        assert b[0].fingerprint in driver.page_source or path == "/outbound"
        assert not [m for m in a_marks if m in driver.page_source], path
    for f in a:
        for path in (
            f"/failed/messages/{f.failed_id}",
            f"/failed/groups/{f.fingerprint}",
            f"/failed/messages/{f.failed_id}/replay",
        ):
            driver.get(f"{served.url}{path}")
            assert driver.title.split(" ")[0] in ("403", "404"), path
            assert SNILS not in driver.page_source
    driver.get(f"{served.url}/audit")
    assert driver.title.startswith("403")  # an operator does not read the audit log
    login(driver, served.url, token(hub, Role.AUDITOR, SCHOOL_B, name="auditor-b"))
    driver.get(f"{served.url}/audit")
    assert "operator-a" not in driver.page_source and "ticket 7" not in driver.page_source
    rows = [row.text for row in driver.find_elements(By.CSS_SELECTOR, "#audit tr")]
    # A's ids appear only where B's own operator typed them: its denied attempts above.
    naming_a = [row for row in rows if any(mark in row for mark in a_marks)]
    assert naming_a and all("operator-b" in row and "denied" in row for row in naming_a)
    assert any(e.actor.startswith("operator-a") for e in hub.journal.audit_log(100))
