"""`make ui`: the Airflow API server on the demo's Airflow home, with the sync history at /braze/syncs.

Uses Airflow's simple auth manager with one user, ``braze``, whose password is made once and kept in
``$AIRFLOW_HOME/ui-passwords.json`` (printed here, as Airflow itself prints the passwords it makes).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

from airflow_provider_braze.hooks.ketch_settings import airflow_home

USER = "braze"


def password_file(home: Path) -> tuple[Path, str]:
    """The simple auth manager's password file for the demo user, made on first use."""
    path = home / "ui-passwords.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    if USER not in known:
        known[USER] = secrets.token_urlsafe(12)
        path.write_text(json.dumps(known) + "\n")
        path.chmod(0o600)
    return path, known[USER]


def main() -> None:
    home = Path(airflow_home())
    port = os.environ.get("UI_PORT", "8080")
    passwords, password = password_file(home)
    ledger = home / "braze_provider_state.db"
    print(f"Sync history: http://127.0.0.1:{port}/braze/syncs  (also under 'Braze syncs' in the UI's navigation)")
    print(f"Log in as {USER!r} with password {password!r}")
    if not ledger.exists():
        print("The sync ledger is empty: run `make demo` first to fill it.")
    env = {
        **os.environ,
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
    }
    sys.stdout.flush()
    args = [sys.executable, "-m", "airflow", "api-server", "--host", "127.0.0.1", "--port", port, "--workers", "1"]
    os.execve(sys.executable, args, env)  # noqa: S606 - fixed arguments, no shell: the API server replaces us


if __name__ == "__main__":
    main()
