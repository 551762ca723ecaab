"""Where a task runs, as the worker-local state file sees it: the executor, and the container."""

from __future__ import annotations

import pytest

from airflow_provider_braze.state.placement import (
    DISTRIBUTED,
    LOCAL,
    UNKNOWN,
    classify_executor,
    container_evidence,
    executor_placement,
    mount_of,
    parse_mountinfo,
)

# /proc/self/mountinfo of a Docker container: the overlay root, /proc, a named volume at /data.
ROOT_OVERLAY = "1136 950 0:220 / / rw,relatime master:352 - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w\n"
PROC = "1137 1136 0:223 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
VOLUME = "1180 1136 254:1 /var/lib/docker/volumes/home/_data /data rw,relatime - ext4 /dev/vda1 rw\n"
EMPTY_DIR = (
    "1190 1136 254:1 /var/lib/kubelet/pods/7c1d/volumes/kubernetes.io~empty-dir/home /opt/airflow rw,relatime "
    "- ext4 /dev/vda1 rw\n"
)
NO_ENV: dict[str, str] = {}


@pytest.mark.parametrize(
    "name",
    [
        "CeleryExecutor",
        "KubernetesExecutor",
        "CeleryKubernetesExecutor",
        "LocalKubernetesExecutor",
        "airflow.providers.edge3.executors.EdgeExecutor",
        "airflow.providers.amazon.aws.executors.ecs.ecs_executor.AwsEcsExecutor",
        "pods:airflow.providers.cncf.kubernetes.executors.kubernetes_executor.KubernetesExecutor",
        "my_company.executors.RayClusterExecutor",
    ],
)
def test_executors_that_run_tasks_elsewhere_are_distributed(name):
    assert classify_executor(name) == DISTRIBUTED


@pytest.mark.parametrize(
    "name",
    ["LocalExecutor", "airflow.executors.local_executor.LocalExecutor", "fast:LocalExecutor", "SequentialExecutor"],
)
def test_executors_on_the_schedulers_machine_are_local(name):
    assert classify_executor(name) == LOCAL


def test_a_custom_executor_whose_name_says_nothing_is_unknown_and_counts_as_elsewhere():
    placement = executor_placement(None, "my_company.executors.QuietExecutor", NO_ENV)
    assert placement.kind == UNKNOWN and placement.elsewhere
    assert "does not know" in placement.describe()


def test_the_default_executor_is_the_first_of_the_list():
    assert executor_placement(None, "KubernetesExecutor,LocalExecutor", NO_ENV).kind == DISTRIBUTED
    local = executor_placement(None, "LocalExecutor, CeleryExecutor", NO_ENV)
    assert local.kind == LOCAL and local.name == "LocalExecutor"


def test_the_tasks_own_executor_wins_over_the_default():
    on_celery = executor_placement("CeleryExecutor", "LocalExecutor,CeleryExecutor", NO_ENV)
    assert on_celery.kind == DISTRIBUTED and on_celery.source == "the task's executor="
    assert executor_placement("LocalExecutor", "CeleryExecutor,LocalExecutor", NO_ENV).kind == LOCAL


def test_the_tasks_executor_is_found_by_alias_module_path_or_class_name():
    config = "LocalExecutor,pods:airflow.providers.cncf.kubernetes.executors.kubernetes_executor.KubernetesExecutor"
    assert executor_placement("pods", config, NO_ENV).kind == DISTRIBUTED
    assert executor_placement("KubernetesExecutor", config, NO_ENV).kind == DISTRIBUTED
    assert executor_placement("quick", "quick:LocalExecutor,CeleryExecutor", NO_ENV).kind == LOCAL


def test_a_kubernetes_executor_pod_is_distributed_whatever_its_own_configuration_says():
    placement = executor_placement(None, "LocalExecutor", {"AIRFLOW_IS_K8S_EXECUTOR_POD": "True"})
    assert placement.kind == DISTRIBUTED and "AIRFLOW_IS_K8S_EXECUTOR_POD" in placement.describe()


def test_a_teams_distributed_default_counts_when_the_task_names_no_executor():
    placement = executor_placement(None, "LocalExecutor;team_a=CeleryExecutor", NO_ENV)
    assert placement.name == "CeleryExecutor" and "team team_a" in placement.source


def test_no_configured_executor_is_airflows_default_local_one():
    assert executor_placement(None, "", NO_ENV).kind == LOCAL


# --- the container: a fake mountinfo file and a fake marker file ----------------------------------------


@pytest.fixture
def machine(tmp_path):
    """``check(state_dir, mountinfo, in_container=True)``: the container evidence on a faked machine."""

    def check(state_dir: str, mountinfo: str, *, in_container: bool = True, environ=NO_ENV) -> str | None:
        marker = tmp_path / "dockerenv"
        if in_container:
            marker.touch()
        info = tmp_path / "mountinfo"
        info.write_text(mountinfo)
        return container_evidence(
            state_dir,
            environ,
            mountinfo_path=str(info),
            marker_files=[str(marker)],
            cgroup_path=str(tmp_path / "no-cgroup"),
        )

    return check


def test_a_state_folder_on_the_containers_root_overlay_goes_with_the_container(machine):
    evidence = machine("/opt/airflow", ROOT_OVERLAY + PROC)
    assert evidence is not None
    assert "dockerenv" in evidence and "/opt/airflow" in evidence and "overlay" in evidence


def test_a_state_folder_on_a_mounted_volume_outlives_the_container(machine):
    assert machine("/data/airflow", ROOT_OVERLAY + PROC + VOLUME) is None


def test_outside_a_container_an_overlay_root_claims_nothing(machine):
    assert machine("/opt/airflow", ROOT_OVERLAY, in_container=False) is None


def test_kubernetes_environment_alone_says_container(machine):
    evidence = machine(
        "/opt/airflow", ROOT_OVERLAY, in_container=False, environ={"KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    )
    assert evidence is not None and "KUBERNETES_SERVICE_HOST" in evidence


def test_an_empty_dir_volume_lives_only_as_long_as_its_pod(machine):
    evidence = machine("/opt/airflow", ROOT_OVERLAY + EMPTY_DIR)
    assert evidence is not None and "emptyDir" in evidence


def test_unreadable_mounts_claim_nothing(machine):
    assert machine("/opt/airflow", "") is None


def test_the_deepest_mount_above_a_path_is_its_mount_and_escaped_spaces_are_read():
    mounts = parse_mountinfo(ROOT_OVERLAY + "1200 1136 254:1 / /srv/air\\040flow rw - ext4 /dev/vdb rw\n")
    assert mount_of("/srv/air flow/home", mounts).fs_type == "ext4"
    assert mount_of("/srv/airflowx", mounts).fs_type == "overlay"
