"""Whether a worker-local state file outlives the task's attempts: the executor, and the container.

The embedded state store is a SQLite file under ``AIRFLOW_HOME``. It keeps a sync ledger only while
every attempt and every run of the task lands on the machine that holds the file. Two setups break
that without a word, and a sync then starts from an empty ledger: every attribute is resent and
every event and purchase sent again.

- **An executor that runs tasks elsewhere**: Celery, Kubernetes, their hybrids, Edge, the cloud
  batch executors. See :func:`executor_placement`.
- **A container whose own filesystem holds** ``AIRFLOW_HOME``: the file goes with the container
  (a fresh pod, a redeployed image). See :func:`container_evidence`.

No Airflow imports: the caller passes ``[core] executor`` and the task's ``executor`` in
(:func:`airflow_provider_braze.hooks.state.worker_local_state_risks` reads them from Airflow).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Executors known to run a task's attempts on other machines or in pods of their own: the Celery and
#: Kubernetes providers' executors and their hybrids (queues routed to pods), the edge3 provider's
#: EdgeExecutor, the Amazon provider's ECS, Batch and Lambda executors, and Dask's.
DISTRIBUTED_EXECUTORS = frozenset(
    {
        "CeleryExecutor",
        "KubernetesExecutor",
        "CeleryKubernetesExecutor",
        "LocalKubernetesExecutor",
        "EdgeExecutor",
        "AwsEcsExecutor",
        "AwsBatchExecutor",
        "AwsLambdaExecutor",
        "DaskExecutor",
    }
)
#: Executors that run every task on the scheduler's machine.
LOCAL_EXECUTORS = frozenset({"LocalExecutor", "SequentialExecutor", "DebugExecutor"})
#: Words in a custom executor's class name that say where it sends tasks. A hybrid's name
#: (``LocalKubernetesExecutor``-style) holds one of them, so it counts as distributed: any of its
#: queues may go to another machine.
_DISTRIBUTED_WORDS = re.compile(r"Celery|Kubernetes|K8s|Edge|Ecs|Batch|Lambda|Dask|Ray|Nomad|Pod|Remote|Cloud")
_LOCAL_NAME = re.compile(r"(Local|Sequential)Executor$")

LOCAL = "local"
DISTRIBUTED = "distributed"
UNKNOWN = "unknown"

#: Set by the KubernetesExecutor in every pod it starts. Its pods' own ``[core] executor`` says
#: ``LocalExecutor`` (the Helm chart's pod template sets it so), so the configuration alone cannot tell.
K8S_EXECUTOR_POD_ENV = "AIRFLOW_IS_K8S_EXECUTOR_POD"


def executor_class_name(name: str) -> str:
    """The class name in an executor setting: ``CeleryExecutor``, ``my.module.MyExecutor`` -> ``MyExecutor``,
    an alias's target (``fast:LocalExecutor`` -> ``LocalExecutor``)."""
    target = name.split(":", 1)[-1].strip()
    return target.rsplit(".", 1)[-1]


def classify_executor(name: str) -> str:
    """Where an executor runs tasks, judged by its class name only (the class is never imported: its
    provider may not be installed on this worker).

    :param name: a core executor name, a module path, or ``alias:name``.
    :return: :data:`LOCAL`, :data:`DISTRIBUTED`, or :data:`UNKNOWN` for a custom executor whose name says
        neither (the caller treats it as distributed: a wrong refusal costs one argument, a wrong pass
        resends events).
    """
    cls = executor_class_name(name)
    if cls in DISTRIBUTED_EXECUTORS or _DISTRIBUTED_WORDS.search(cls):
        return DISTRIBUTED
    if cls in LOCAL_EXECUTORS or _LOCAL_NAME.search(cls):
        return LOCAL
    return UNKNOWN


@dataclass(frozen=True)
class ExecutorPlacement:
    """The executor that runs a task, and where it runs it.

    :param name: the executor as the task or the configuration names it (alias, name or module path).
    :param source: how it was found, for the error: ``the task's executor=``, ``the default of [core] executor``...
    :param kind: :data:`LOCAL`, :data:`DISTRIBUTED` or :data:`UNKNOWN`.
    """

    name: str
    source: str
    kind: str

    @property
    def elsewhere(self) -> bool:
        """Whether attempts may run on another machine (unknown executors count as such)."""
        return self.kind != LOCAL

    def describe(self) -> str:
        """The evidence, as the refusal names it."""
        if self.kind == UNKNOWN:
            return (
                f"the task runs on {self.name} ({self.source}), an executor this provider does not know, so it "
                "may run attempts on other machines"
            )
        return f"the task runs on {self.name} ({self.source}), which runs attempts on other machines or in new pods"


def configured_executors(core_executor: str) -> list[tuple[str | None, list[str]]]:
    """``[core] executor`` read as Airflow 3 reads it: a comma-separated list, the first being the default,
    then ``;team=...`` lists (Airflow uses them with ``[core] multi_team``; here they count either way).

    :param core_executor: the setting, e.g. ``CeleryExecutor,KubernetesExecutor`` or
        ``LocalExecutor;team_a=CeleryExecutor``.
    :return: ``(team, [executor, ...])`` per list, the global one (team ``None``) first.
    """
    lists: list[tuple[str | None, list[str]]] = []
    for part in core_executor.split(";"):
        team, _, names = part.rpartition("=") if "=" in part else ("", "", part)
        executors = [name.strip() for name in names.split(",") if name.strip()]
        if executors:
            lists.append((team.strip() or None, executors))
    return lists


def executor_placement(
    task_executor: str | None, core_executor: str, environ: Mapping[str, str] | None = None
) -> ExecutorPlacement:
    """The executor that runs the task: its own ``executor=`` when set, else the configured default.

    :param task_executor: the operator's ``executor`` argument (an alias, a core name, a module path or a
        class name, as Airflow accepts), or ``None``.
    :param core_executor: ``[core] executor`` as configured on this worker.
    :param environ: the environment (default ``os.environ``): a KubernetesExecutor pod says so there,
        whatever its configuration says.
    :return: the placement; with team lists and no ``executor=`` on the task, the first default (global or a
        team's) that runs elsewhere: the task's team is not known here, so every default counts.
    """
    env = os.environ if environ is None else environ
    if env.get(K8S_EXECUTOR_POD_ENV, "").strip().lower() == "true":
        return ExecutorPlacement("KubernetesExecutor", f"{K8S_EXECUTOR_POD_ENV}=True in this pod", DISTRIBUTED)
    lists = configured_executors(core_executor)
    if task_executor:
        for _team, names in lists:
            for name in names:
                alias = name.split(":", 1)[0] if ":" in name else None
                target = name.split(":", 1)[-1]
                if task_executor in (alias, target, name, executor_class_name(name)):
                    return ExecutorPlacement(task_executor, "the task's executor=", classify_executor(name))
        # Not configured here: Airflow will not schedule it, but its name still says where it would run.
        return ExecutorPlacement(task_executor, "the task's executor=", classify_executor(task_executor))
    if not lists:
        return ExecutorPlacement("LocalExecutor", "Airflow's default executor", LOCAL)
    defaults = [
        ExecutorPlacement(
            names[0],
            f"the default of [core] executor = {core_executor!r}"
            if team is None
            else f"team {team}'s default in [core] executor",
            classify_executor(names[0]),
        )
        for team, names in lists
    ]
    return next((d for d in defaults if d.elsewhere), defaults[0])


# --- the container -----------------------------------------------------------------------------------

#: Files a container runtime leaves in the container: Docker's, and Podman's (also CRI-O's).
CONTAINER_MARKER_FILES: tuple[str, ...] = ("/.dockerenv", "/run/.containerenv")
#: Set in every Kubernetes container (the API server's service), whatever its spec says.
KUBERNETES_ENV = "KUBERNETES_SERVICE_HOST"
MOUNTINFO_PATH = "/proc/self/mountinfo"
CGROUP_PATH = "/proc/self/cgroup"
#: Union filesystems a container runtime makes the container's root of (image layers + a writable
#: layer that goes with the container).
_ROOT_LAYER_TYPES = frozenset({"overlay", "overlayfs", "fuse-overlayfs", "aufs"})
_CGROUP_CONTAINER = re.compile(r"docker|kubepods|containerd|libpod|crio|lxc")


@dataclass(frozen=True)
class Mount:
    """One line of ``/proc/self/mountinfo``: the filesystem mounted at ``mount_point``.

    :param root: the folder of the source filesystem mounted there (a bind mount's source, e.g. a
        Kubernetes emptyDir under ``/var/lib/kubelet/pods/...``).
    """

    mount_point: str
    root: str
    fs_type: str
    source: str


def parse_mountinfo(text: str) -> list[Mount]:
    """The mounts of ``/proc/<pid>/mountinfo`` (proc(5)), in order; malformed lines are skipped."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields or len(fields) < 5:
            continue
        tail = fields[fields.index("-") + 1 :]
        if len(tail) < 2:
            continue
        mounts.append(Mount(_unescape(fields[4]), _unescape(fields[3]), tail[0], _unescape(tail[1])))
    return mounts


def mount_of(path: str, mounts: Sequence[Mount]) -> Mount | None:
    """The mount a path sits on: the longest mount point above it (the later of two at one point, which
    covers the earlier)."""
    best: Mount | None = None
    best_length = -1
    for mount in mounts:
        point = mount.mount_point.rstrip("/") or "/"
        above = point in ("/", path) or path.startswith(point + "/")
        if above and len(point) >= best_length:
            best, best_length = mount, len(point)
    return best


def lives_with_container(mount: Mount) -> str | None:
    """Why a folder on ``mount`` is gone when its container is, or ``None`` for a volume that outlives it.

    Heuristic: the container's root (an overlay of the image's layers), a memory filesystem, or a
    Kubernetes emptyDir (a volume that lives as long as its pod). Any other mount is taken for a volume
    (a persistent volume, a host folder, NFS).
    """
    if mount.fs_type in _ROOT_LAYER_TYPES and (mount.mount_point.rstrip("/") or "/") == "/":
        return f"the container's own root filesystem ({mount.fs_type} at /), not a mounted volume"
    if "kubernetes.io~empty-dir" in mount.root:
        return f"a Kubernetes emptyDir volume at {mount.mount_point}, which lives as long as its pod"
    if mount.fs_type == "tmpfs":
        return f"a memory filesystem (tmpfs at {mount.mount_point})"
    return None


def container_markers(
    environ: Mapping[str, str] | None = None,
    *,
    marker_files: Sequence[str] | None = None,
    cgroup_path: str | None = None,
) -> list[str]:
    """What says this process runs in a container: runtime marker files, Kubernetes' environment, a
    container runtime's name in the process's cgroup path (cgroup v1; v2 shows ``0::/`` inside).

    :param environ: the environment (default ``os.environ``).
    :param marker_files: the runtime marker files (default :data:`CONTAINER_MARKER_FILES`, read when called,
        so that a test can point it elsewhere).
    :param cgroup_path: the process's cgroup file (default :data:`CGROUP_PATH`).
    """
    env = os.environ if environ is None else environ
    found = [
        path for path in (CONTAINER_MARKER_FILES if marker_files is None else marker_files) if os.path.exists(path)
    ]
    if env.get(KUBERNETES_ENV):
        found.append(KUBERNETES_ENV)
    cgroup_file = cgroup_path or CGROUP_PATH
    cgroup = _read(cgroup_file)
    if cgroup and _CGROUP_CONTAINER.search(cgroup):
        found.append(f"{cgroup_file} names a container runtime")
    return found


def container_evidence(
    state_dir: str,
    environ: Mapping[str, str] | None = None,
    *,
    mountinfo_path: str | None = None,
    marker_files: Sequence[str] | None = None,
    cgroup_path: str | None = None,
) -> str | None:
    """Why a state file in ``state_dir`` goes with this task's container, or ``None``: not in a container,
    or the folder is on a mounted volume, or the mounts cannot be read (then nothing is claimed).

    :param state_dir: the folder of the state file (``AIRFLOW_HOME``); symbolic links are followed.
    :param environ: the environment (default ``os.environ``).
    :param mountinfo_path: where the mounts are read (default :data:`MOUNTINFO_PATH`; a test passes a file).
    :param marker_files: the runtime marker files to look for (default :data:`CONTAINER_MARKER_FILES`).
    :param cgroup_path: the process's cgroup file (default :data:`CGROUP_PATH`).
    """
    markers = container_markers(environ, marker_files=marker_files, cgroup_path=cgroup_path)
    if not markers:
        return None
    text = _read(mountinfo_path or MOUNTINFO_PATH)
    mount = mount_of(os.path.realpath(state_dir), parse_mountinfo(text)) if text else None
    why = lives_with_container(mount) if mount is not None else None
    if why is None:
        return None
    return f"the task runs in a container ({', '.join(markers)}) and {state_dir} sits on {why}"


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read()
    except OSError:
        return None


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash in paths as octal (``\\040``)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)
