"""The sync history in a real browser: headless Chromium logs in to a real `airflow api-server` and reads the pages.

Chromium and its WebDriver come from Debian (``tools/test_browser.sh``, run by ``make test``); the test
is skipped only where they are absent. It leaves a screenshot of each page under ``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.ui.conftest import JWT_SECRET

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
USER, PASSWORD = "ana", "browser-test-password-4c1d"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or not os.path.exists(CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (tools/test_browser.sh installs them; make test runs it)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def api_server(metadata_db, ledger, own_state_store, tmp_path):
    """``airflow api-server`` on loopback over the ledger the exports filled, with the simple auth manager
    and one viewer whose password is known (not all-admins mode)."""
    home = own_state_store
    with sqlite3.connect(metadata_db) as source, sqlite3.connect(home / "airflow.db") as copy:
        source.backup(copy)  # a migrated metadata database, without migrating again
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}))
    (tmp_path / "dags").mkdir()
    port = free_port()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": JWT_SECRET,
    }
    log = tmp_path / "api-server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "airflow", "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/braze/syncs", timeout=2).status_code == 401:
                    break
            except requests.ConnectionError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"airflow api-server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
                 "--disable-gpu", "--no-first-run", "--disable-extensions"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def test_a_person_logs_in_and_reads_the_sync_history(api_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 30)
    browser.get(f"{api_server}/braze/syncs")
    assert "Log in to Airflow first" in browser.find_element(By.TAG_NAME, "body").text
    browser.find_element(By.LINK_TEXT, "Log in").click()

    wait.until(seen.presence_of_element_located((By.NAME, "username"))).send_keys(USER)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.XPATH, "//button[@type='submit']").click()

    syncs = wait.until(seen.presence_of_element_located((By.ID, "syncs")))
    assert browser.current_url == f"{api_server}/braze/syncs"
    assert "warehouse.customers attributes /users/track 2" in syncs.text
    assert "warning 2 refused" in browser.find_element(By.XPATH, "//tr[td/a='warehouse.purchases']").text
    screenshot(browser, "sync-history-syncs.png")

    browser.find_element(By.LINK_TEXT, "warehouse.customers").click()
    first = wait.until(seen.presence_of_element_located((By.XPATH, "//tr[td/a='scheduled__2026-11-20']")))
    # Read, sent, accepted, unchanged, refused, unknown, data points spent, saved.
    assert " success 5 3 3 0 2 0 4 0 " in f" {first.text} "
    assert len(browser.find_elements(By.CSS_SELECTOR, "figure svg")) == 2
    screenshot(browser, "sync-history-sync.png")

    browser.find_element(By.LINK_TEXT, "scheduled__2026-11-20").click()
    problems = wait.until(seen.presence_of_element_located((By.ID, "problems")))
    assert "dob 'not a date' is not a date in the form YYYY-MM-DD" in problems.text
    assert "an***@example.com" in problems.text and "ana.lopez" not in problems.text

    search = browser.find_element(By.ID, "identifier")
    search.send_keys("u-2")
    search.submit()
    found = wait.until(seen.presence_of_element_located((By.ID, "search-result")))
    assert found.text == "1 row of this run filed under that identifier."
    assert "not a date" in browser.find_element(By.ID, "problems").text
    assert "u-2" not in browser.current_url  # the identifier went in the form's body, not the address
    screenshot(browser, "sync-history-run.png")
