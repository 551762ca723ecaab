"""The provider's metadata, as Airflow discovers and validates it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from importlib.metadata import entry_points

import jsonschema

from airflow_provider_braze import get_provider_info


def test_provider_info_matches_airflows_schema():
    schema = json.loads(resources.files("airflow").joinpath("provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_package_name_is_the_distribution_name():
    assert get_provider_info()["package-name"] == "airflow-provider-braze-sync"


def test_entry_point_points_at_get_provider_info():
    (ep,) = [e for e in entry_points(group="apache_airflow_provider") if e.value.startswith("airflow_provider_braze")]
    assert ep.load()() == get_provider_info()


def test_every_declared_module_and_hook_class_imports():
    import importlib

    info = get_provider_info()
    for kind in ("hooks", "operators", "sensors", "triggers"):
        for entry in info.get(kind, []):
            for module in entry["python-modules"]:
                importlib.import_module(module)
    for conn in info["connection-types"]:
        module, _, name = conn["hook-class-name"].rpartition(".")
        hook = getattr(importlib.import_module(module), name)
        assert hook.conn_type == conn["connection-type"]


def test_airflow_providers_list_discovers_the_provider(tmp_path):
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    out = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    listed = {p["package_name"]: p for p in json.loads(out[out.index("[{") :])}
    assert "airflow-provider-braze-sync" in listed


def test_airflow_lists_the_braze_connection_type(tmp_path):
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    out = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "hooks", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    hooks = json.loads(out[out.index("[{") :])
    braze = [h for h in hooks if h.get("connection_type") == "braze"]
    assert braze and braze[0]["class"] == "airflow_provider_braze.hooks.braze.BrazeHook"
