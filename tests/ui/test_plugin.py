"""The plugin loads in every Airflow process without a database, and the API server mounts it at /braze."""

from __future__ import annotations

from airflow_provider_braze.ui.plugin import sync_history_app


def test_airflow_finds_the_plugin_s_app_and_navigation_entry_through_its_entry_point():
    from airflow import plugins_manager

    apps, _ = plugins_manager.get_fastapi_plugins()
    mounted = {a["url_prefix"]: a["app"] for a in apps}
    views, _ = plugins_manager._get_ui_plugins()  # what the UI's navigation is built from

    assert mounted["/braze"] is sync_history_app
    nav = next(v for v in views if v["name"] == "Braze syncs")
    assert nav["href"] == "/braze/syncs" and nav["destination"] == "nav"


def test_loading_the_plugin_builds_no_app_and_reads_no_store(own_state_store):
    from airflow_provider_braze.ui.plugin import LazySyncHistoryApp

    fresh = LazySyncHistoryApp()

    assert fresh._app is None
    assert not (own_state_store / "braze_provider_state.db").exists()
