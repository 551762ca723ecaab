"""The sync history in a real browser: headless Chromium logs in to a real `airflow api-server` and reads the pages.

The ledger behind the pages is the demo's: its sample warehouse, and its warehouse-export DAG run with
``airflow dags test`` for the first day of data against the Braze sandbox (one of that day's orders
has a currency that does not exist, so a refused row shows). Chromium and its WebDriver come from
Debian (``tools/test_browser.sh``, run by ``make test``); the test is skipped only where they are
absent. It leaves a screenshot of each page under ``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from demo import warehouse
from tests.helpers.secrets import TEST_API_KEY
from tests.helpers.servers import wait_until_answering
from tests.helpers.ui import JWT_SECRET

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


DEMO_DAG = "example_braze_warehouse_export"
DEMO_DAY = (warehouse.DAYS[0] + warehouse.ONE_DAY).date().isoformat()  # covers the first day of data


@pytest.fixture
def demo_home(metadata_db, sandbox, tmp_path):
    """An ``AIRFLOW_HOME`` whose sync ledger the demo's warehouse export filled, as ``make demo`` runs it."""
    home = tmp_path / "home"
    home.mkdir()
    with sqlite3.connect(metadata_db) as source, sqlite3.connect(home / "airflow.db") as copy:
        source.backup(copy)  # a migrated metadata database, without migrating again
    db = warehouse.seed(tmp_path / "warehouse.db")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_BRAZE_DEFAULT": json.dumps({"conn_type": "braze", "host": sandbox.url, "password": TEST_API_KEY}),
        "AIRFLOW_CONN_BRAZE_DEMO_WAREHOUSE": json.dumps({"conn_type": "sqlite", "host": str(db)}),
    }
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", DEMO_DAG, DEMO_DAY],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return home


@pytest.fixture
def api_server(demo_home, tmp_path):
    """``airflow api-server`` on loopback over the demo's ledger, with the simple auth manager and one
    viewer whose password is known (not all-admins mode)."""
    home = demo_home
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
            [
                sys.executable,
                "-m",
                "airflow",
                "api-server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        # Up when the plugin's page asks for a login.
        wait_until_answering(
            f"{base}/braze/syncs",
            401,
            server,
            what="airflow api-server",
            timeout=60,
            interval=0.3,
            output=log.read_text,
        )
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
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
    ):
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
    # The demo's export DAG: one sync per task that writes to Braze through the ledger.
    assert f"{DEMO_DAG}.customer_attributes attributes /users/track 1" in syncs.text
    assert f"{DEMO_DAG}.app_events events /users/track 1" in syncs.text
    purchases_row = browser.find_element(By.XPATH, f"//tr[td/a='{DEMO_DAG}.purchases']").text
    assert purchases_row.endswith("success warning 1 refused")
    screenshot(browser, "sync-history-syncs.png")

    browser.find_element(By.LINK_TEXT, f"{DEMO_DAG}.purchases").click()
    run_row = wait.until(seen.presence_of_element_located((By.XPATH, "//tr[td/a[starts-with(., 'manual__')]]")))
    # Read, sent, accepted, unchanged, refused, unknown, data points spent, saved: 98 orders that day, one
    # with the currency ZZZ refused before sending.
    assert " success 98 97 97 0 1 0 97 0 " in f" {run_row.text} "
    assert len(browser.find_elements(By.CSS_SELECTOR, "figure svg")) == 2
    screenshot(browser, "sync-history-sync.png")

    run_row.find_element(By.TAG_NAME, "a").click()
    problems = wait.until(seen.presence_of_element_located((By.ID, "problems")))
    assert "currency 'ZZZ' is not a current ISO 4217 currency code" in problems.text

    search = browser.find_element(By.ID, "identifier")
    search.send_keys("customer-000")
    search.submit()
    missed = wait.until(seen.presence_of_element_located((By.ID, "search-result")))
    assert missed.text == "No row of this run was filed under that identifier."
    assert "customer-000" not in browser.current_url  # the identifier went in the form's body, not the address
    screenshot(browser, "sync-history-run.png")
