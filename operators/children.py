"""What the operator creates for a SeerJob: names, labels and manifests (pure).

Per job: one worker pod per node slot, a rendezvous pod running a TCPStore and a
headless Service in front of it. Everything carries an ownerReference to the
SeerJob, so deleting the job removes its children (Kubernetes garbage collection).

Naming invariant: a worker pod is ``<job>-worker-<slot>-<n>`` where ``n`` is the
job's restart count when the pod was created. Names are a pure function of
(job, slot, restart count), so a reconcile that runs twice, or an operator that
restarts mid-flight, asks for the same names again and gets 409 instead of a
duplicate. ``spec.MAX_NAME_LENGTH`` keeps room for the suffix.

Restarts (the choice documented in docs/operator.md): torchrun gets
``--max-restarts = restart.maxRestarts`` so that the *surviving* pods re-rendezvous
in place when a peer disappears (torch elastic restarts its local workers and forms
a new group of >= nodes.min); the operator replaces the lost *pod*. With
``--max-restarts 0`` every survivor would exit with an error when one peer is lost,
which is exactly Kubeflow's "one pod lost restarts everything".
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from seer.operators.gang import gang_pod_fields
from seer.platform.contract import (
    ANNOTATION_PREFIX,
    ANNOTATION_SPEC_HASH,
    CONTAINER_RENDEZVOUS,
    CONTAINER_TRAINER,
    ENV_POD_IP,
    ENV_POD_NAME,
    GCS_CREDENTIALS_DIR,
    GCS_SECRET_KEY,
    LABEL_JOB,
    LABEL_MANAGED_BY,
    LABEL_RESTART,
    LABEL_ROLE,
    LABEL_SLOT,
    MANAGED_BY,
    RDZV_PORT,
    ROLE_RENDEZVOUS,
    ROLE_WORKER,
    SCRATCH_DIR,
    SCRATCH_ENV,
    STORAGE_SECRET_KEYS,
)
from seer.platform.kube.status import rfc3339
from seer.platform.pod_template import apply_pod_template
from seer.platform.spec import API_GROUP, API_VERSION, KIND, SeerJob
from seer.platform.worker import (
    pod_cpus,
    rendezvous_service_name,
    threads_per_proc,
    torchrun_args,
    uses_aws_secret_keys,
    uses_gcs_key_file,
    worker_env,
    worker_image,
    worker_image_pull_policy,
    worker_service_account,
)

#: On a replacement worker: when the failure event it replaces began (RFC 3339). Pods lost
#: together count one restart (``planning``); this is how a later reconcile, or a restarted
#: operator, knows which event a restart number belongs to without any other state.
ANNOTATION_FAILURE_EVENT = f"{ANNOTATION_PREFIX}/failure-event"

#: Seconds added to the checkpoint budget for torchrun's shutdown and the process exit.
GRACE_MARGIN_SECONDS = 15


def worker_name(job: str, slot: int, restart: int) -> str:
    return f"{job}-worker-{slot}-{restart}"


def rendezvous_name(job: str) -> str:
    return rendezvous_service_name(job)


def selector(job: str) -> str:
    """Label selector of everything the operator made for a job."""
    return f"{LABEL_JOB}={job},{LABEL_MANAGED_BY}={MANAGED_BY}"


def grace_period_seconds(job: SeerJob) -> int:
    """Termination grace: the trainer's final-checkpoint budget plus a shutdown margin."""
    return int(math.ceil(job.spec.checkpoint.preemption_budget_seconds)) + GRACE_MARGIN_SECONDS


def owner_reference(job: SeerJob, uid: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": KIND,
        "name": job.name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _labels(job: SeerJob, role: str) -> dict[str, str]:
    return {**job.metadata.labels, LABEL_JOB: job.name, LABEL_ROLE: role, LABEL_MANAGED_BY: MANAGED_BY}


def _metadata(job: SeerJob, uid: str, name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": job.metadata.namespace,
        "labels": labels,
        "annotations": {ANNOTATION_SPEC_HASH: job.spec_hash()},
        "ownerReferences": [owner_reference(job, uid)],
    }


def threads_per_process(job: SeerJob) -> int:
    """OMP threads per worker process: the pod's CPU request shared by its processes."""
    return threads_per_proc(job, cpus=pod_cpus(job))


def torchrun_command(job: SeerJob, uid: str) -> list[str]:
    """The worker command: the same torchrun line TorchX's AppDef carries, plus
    ``--local-addr $(SEER_POD_IP)`` (the kubelet expands ``$(VAR)`` from the env).

    Why: the rendezvous' rank-0 agent publishes its address as the workers'
    ``MASTER_ADDR``; without ``--local-addr`` that is its hostname, i.e. the pod name,
    which other pods cannot resolve (found by tests/multinode: rank 1 retried
    "two-worker-0-0: Temporary failure in name resolution" until it gave up)."""
    args = torchrun_args(job, "kubernetes", rdzv_id=uid)
    module = args.index("-m")
    return ["torchrun", *args[:module], "--local-addr", f"$({ENV_POD_IP})", *args[module:]]


def _env(job: SeerJob, restart: int) -> list[dict[str, Any]]:
    """``worker_env`` as a pod env list, plus what only a pod has: its own name (a
    fieldRef) and the storage credentials (secretKeyRefs; never plain values)."""
    env: list[dict[str, Any]] = [
        {"name": name, "value": value}
        for name, value in worker_env(job, target="kubernetes", restart_count=restart).items()
    ]
    env.append({"name": ENV_POD_NAME, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
    env.append({"name": ENV_POD_IP, "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}})
    secret = job.spec.storage.secret_name
    if secret and uses_aws_secret_keys(job):
        for key, optional in STORAGE_SECRET_KEYS:
            ref: dict[str, Any] = {"name": secret, "key": key}
            if optional:
                ref["optional"] = True
            env.append({"name": key, "valueFrom": {"secretKeyRef": ref}})
    return env


_GCS_KEY_VOLUME = "gcs-credentials"


def _gcs_key_volumes(job: SeerJob) -> list[dict[str, Any]]:
    """The GCS service-account key of ``storage.secretName`` as a read-only file (only the one
    key, mode 0440), for a job on ``gs://`` with a Secret; ``worker_env`` points
    ``GOOGLE_APPLICATION_CREDENTIALS`` at it. None for workload identity (no Secret)."""
    if not uses_gcs_key_file(job):
        return []
    secret = {"secretName": job.spec.storage.secret_name, "items": [{"key": GCS_SECRET_KEY, "path": GCS_SECRET_KEY}]}
    return [{"name": _GCS_KEY_VOLUME, "secret": {**secret, "defaultMode": 0o440}}]


def _gcs_key_mounts(job: SeerJob) -> list[dict[str, Any]]:
    if not uses_gcs_key_file(job):
        return []
    return [{"name": _GCS_KEY_VOLUME, "mountPath": GCS_CREDENTIALS_DIR, "readOnly": True}]


def _metrics_ports(job: SeerJob) -> list[dict[str, Any]]:
    metrics = job.spec.metrics
    if not metrics.enabled or metrics.port == 0:
        return []
    return [
        {
            "name": "metrics" if local_rank == 0 else f"metrics-{local_rank}",
            "containerPort": metrics.port + local_rank,
            "protocol": "TCP",
        }
        for local_rank in range(job.spec.resources.procs_per_node)
    ]


def _resources(job: SeerJob) -> dict[str, Any]:
    resources = job.spec.resources
    amounts: dict[str, Any] = {"cpu": resources.cpu, "memory": resources.memory}
    if resources.gpus_per_node:
        amounts["nvidia.com/gpu"] = str(resources.gpus_per_node)
    return {"requests": dict(amounts), "limits": dict(amounts)}


def _tolerations(job: SeerJob) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in t.model_dump(mode="json", by_alias=True).items() if v is not None}
        for t in job.spec.resources.tolerations
    ]


_SECURITY = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True}

#: The scratch folder and its variables are the contract's (``worker_env`` carries them
#: for workers; the rendezvous pod gets the same variables).
SCRATCH = SCRATCH_DIR
_SCRATCH_VOLUME = {"name": "tmp", "emptyDir": {}}
_SCRATCH_MOUNT = {"name": "tmp", "mountPath": SCRATCH}


def _scratch_env() -> list[dict[str, Any]]:
    return [{"name": name, "value": value} for name, value in SCRATCH_ENV.items()]


def _pull_policy(spec: dict[str, Any]) -> None:
    """The chart's ``workerDefaults.imagePullPolicy`` on every container (unset: Kubernetes' default)."""
    if (policy := worker_image_pull_policy()) is not None:
        for container in spec["containers"]:
            container["imagePullPolicy"] = policy


def worker_pod(
    job: SeerJob, uid: str, slot: int, restart: int, failure_event: datetime | None = None
) -> dict[str, Any]:
    """The worker pod of node slot ``slot``, created at restart count ``restart``
    (``failure_event``: when the failure it replaces began, for a replacement)."""
    resources = job.spec.resources
    labels = {**_labels(job, ROLE_WORKER), LABEL_SLOT: str(slot), LABEL_RESTART: str(restart)}
    spec: dict[str, Any] = {
        "restartPolicy": "Never",  # the operator decides about restarts, not the kubelet
        "terminationGracePeriodSeconds": grace_period_seconds(job),
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,  # workers never call the API server
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": CONTAINER_TRAINER,
                "image": worker_image(job),
                "command": torchrun_command(job, uid),
                "env": _env(job, restart),
                "ports": _metrics_ports(job),
                "resources": _resources(job),
                "securityContext": _SECURITY,
                "volumeMounts": [
                    {"name": "dshm", "mountPath": "/dev/shm"},
                    dict(_SCRATCH_MOUNT),
                    *_gcs_key_mounts(job),
                ],
            }
        ],
        # NCCL and data-loader workers need more shared memory than the runtime's 64 MiB.
        "volumes": [
            {"name": "dshm", "emptyDir": {"medium": "Memory"}},
            {**_SCRATCH_VOLUME, "emptyDir": {}},
            *_gcs_key_volumes(job),
        ],
    }
    if resources.node_selector:
        spec["nodeSelector"] = dict(resources.node_selector)
    if resources.tolerations:
        spec["tolerations"] = _tolerations(job)
    if resources.priority_class_name:
        spec["priorityClassName"] = resources.priority_class_name
    _pull_policy(spec)
    if (account := worker_service_account()) is not None:
        # The identity IRSA / workload identity bind to the bucket. Their webhooks project a token
        # of their own, so the API token stays unmounted (docs/operator.md, "Worker identity").
        spec["serviceAccountName"] = account
    metadata = _metadata(job, uid, worker_name(job.name, slot, restart), labels)
    if failure_event is not None:
        metadata["annotations"][ANNOTATION_FAILURE_EVENT] = rfc3339(failure_event)
    gang_pod_fields(job, metadata, spec)  # scheduling.gang: scheduler name and PodGroup membership
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
    return apply_pod_template(pod, job.spec.template)  # last: the user's override, merged (pod_template)


def rendezvous_pod(job: SeerJob, uid: str) -> dict[str, Any]:
    """A small pod serving the c10d TCPStore: no worker's loss takes rendezvous down.

    No node selector (it needs no GPU); the job's tolerations and priority class, so
    it is not preempted before the workers it serves."""
    resources = job.spec.resources
    spec: dict[str, Any] = {
        "restartPolicy": "Always",
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,  # the store never calls the API server
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": CONTAINER_RENDEZVOUS,
                "image": worker_image(job),
                "command": ["python", "-m", "seer.operators.rendezvous_store", "--port", str(RDZV_PORT)],
                "env": _scratch_env(),
                "ports": [{"name": "rdzv", "containerPort": RDZV_PORT, "protocol": "TCP"}],
                "readinessProbe": {"tcpSocket": {"port": RDZV_PORT}, "periodSeconds": 5},
                "resources": {
                    "requests": {"cpu": "100m", "memory": "256Mi"},
                    "limits": {"cpu": "1", "memory": "512Mi"},
                },
                "securityContext": _SECURITY,
                "volumeMounts": [dict(_SCRATCH_MOUNT)],
            }
        ],
        "volumes": [{**_SCRATCH_VOLUME, "emptyDir": {}}],
    }
    if resources.tolerations:
        spec["tolerations"] = _tolerations(job)
    if resources.priority_class_name:
        spec["priorityClassName"] = resources.priority_class_name
    _pull_policy(spec)
    name = rendezvous_name(job.name)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _metadata(job, uid, name, _labels(job, ROLE_RENDEZVOUS)),
        "spec": spec,
    }
    return apply_pod_template(pod, job.spec.template, worker=False)  # the same image: its pull secrets


def rendezvous_service(job: SeerJob, uid: str) -> dict[str, Any]:
    """Headless Service: ``<job>-rdzv:29400`` resolves to the rendezvous pod's IP."""
    name = rendezvous_name(job.name)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(job, uid, name, _labels(job, ROLE_RENDEZVOUS)),
        "spec": {
            "clusterIP": "None",
            "selector": {LABEL_JOB: job.name, LABEL_ROLE: ROLE_RENDEZVOUS},
            "ports": [{"name": "rdzv", "port": RDZV_PORT, "targetPort": RDZV_PORT, "protocol": "TCP"}],
        },
    }
