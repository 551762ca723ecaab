"""The README's install line, proven: the built wheel in a clean virtualenv with Airflow.

Builds the wheel from this checkout, installs ``<wheel>[sqlite]`` with ``apache-airflow==3.3.2`` into
a fresh virtualenv (nothing of this checkout on its path), checks that Airflow lists the provider
under its distribution name, and runs one example DAG with ``airflow dags test`` against the Braze
sandbox started from the wheel's own ``braze-sandbox`` command. About 2 minutes (most of it pip).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from airflow_provider_braze import DISTRIBUTION

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_VERSION = "3.3.2"
EXAMPLE_DAG = "example_braze_hook"
SANDBOX_KEY = "wheel-test-key"


def run(*args: str | Path, env: dict | None = None, cwd: Path | None = None, timeout: float = 600) -> str:
    done = subprocess.run(
        [str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{args[0]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    # Built from a copy: a build in the checkout leaves build/ and *.egg-info there, and commands run
    # from the checkout would then find the distribution twice.
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(
        ROOT / "airflow_provider_braze", source / "airflow_provider_braze", ignore=shutil.ignore_patterns("__pycache__")
    )
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", work / "dist", source, cwd=work)
    (wheel,) = (work / "dist").glob("*.whl")
    assert wheel.name.startswith(DISTRIBUTION.replace("-", "_") + "-")
    venv = work / "venv"
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin" / "pip", "install", "--quiet", f"apache-airflow=={AIRFLOW_VERSION}", f"{wheel}[sqlite]", cwd=work)
    return venv


def clean_env(home: Path) -> dict[str, str]:
    """The environment of a user who installed the wheel: no trace of this checkout or its virtualenv."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV"))}
    return {**keep, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}


def test_the_wheel_installs_and_airflow_lists_the_provider(wheel_venv, tmp_path):
    out = run(wheel_venv / "bin" / "airflow", "providers", "list", "-o", "json", env=clean_env(tmp_path), cwd=tmp_path)
    listed = {p["package_name"]: p["version"] for p in json.loads(out[out.index("[{") :])}
    print(f"\nairflow providers list (clean venv, wheel): {DISTRIBUTION} {listed.get(DISTRIBUTION)}")
    assert DISTRIBUTION in listed
    assert "airflow-provider-braze" not in listed  # the unrelated Airflow 2 package of the old name


def test_an_example_dag_runs_from_the_installed_wheel(wheel_venv, tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(ROOT / "example_dags" / f"{EXAMPLE_DAG}.py", dags)
    env = clean_env(tmp_path / "home")
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
    log = (tmp_path / "sandbox.log").open("w")
    sandbox = subprocess.Popen(
        [wheel_venv / "bin" / "braze-sandbox", "--port", "0", "--api-key", SANDBOX_KEY],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=tmp_path,
    )
    try:
        url = _printed_url(tmp_path / "sandbox.log", sandbox)
        env["AIRFLOW_CONN_BRAZE_DEFAULT"] = json.dumps({"conn_type": "braze", "host": url, "password": SANDBOX_KEY})
        run(wheel_venv / "bin" / "airflow", "db", "migrate", env=env, cwd=tmp_path)
        started = time.monotonic()
        run(wheel_venv / "bin" / "airflow", "dags", "test", EXAMPLE_DAG, env=env, cwd=tmp_path)
        print(f"\nairflow dags test {EXAMPLE_DAG} from the wheel: {time.monotonic() - started:.1f} s")
        held = requests.get(f"{url}/_sandbox/state", timeout=10).json()
        assert len(held["users"]) == 120
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
        log.close()


def _printed_url(log_path: Path, process: subprocess.Popen, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        for line in log_path.read_text().splitlines():
            if "listening on http://" in line:
                return line[line.index("http://") :].split()[0].rstrip("/")
        time.sleep(0.1)
    raise AssertionError(f"braze-sandbox did not start: {log_path.read_text()[-2000:]}")
