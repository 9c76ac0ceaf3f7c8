"""The worker contract: every name and number that launchers, workers and the operator share.

Standard library only, on purpose: the trainer, the local supervisor, ``seerctl``, the
TorchX scheduler and the operator all import this module, and a worker image must be
able to start without torchx, kubernetes, kopf or rich installed. Change a value here
and every side sees the change; never spell one of these strings anywhere else.

What a worker is started with (``seer.platform.worker.worker_env`` builds it):

- ``SEER_JOB_SPEC``: the whole validated job as JSON (``seer.platform.worker.spec_json``);
- ``SEER_RESTART_COUNT``: restarts the job has had (0 on the first attempt);
- local runs only: ``SEER_RUN_DIR`` (events, per-rank logs, exit records) and
  ``SEER_ATTEMPT`` (1-based attempt number);
- Kubernetes only: ``SEER_POD_NAME``, ``SEER_POD_IP`` (fieldRefs) and the storage Secret's keys;
- ``OMP_NUM_THREADS``, ``PYTHONUNBUFFERED`` and the non-secret storage settings.

How a worker ends (its exit status, also written to the run's exit record):
0 done; 75 retryable (preempted after a final checkpoint, or lost a peer); 2 invalid
job; 1 any other error. Death by a signal reports no code. What each ending means for
the job is decided in ``seer.platform.restart_policy``.
"""

from __future__ import annotations

# ----------------------------------------------------------------------------- environment

ENV_JOB_SPEC = "SEER_JOB_SPEC"
ENV_RUN_DIR = "SEER_RUN_DIR"
ENV_RESTART_COUNT = "SEER_RESTART_COUNT"
ENV_ATTEMPT = "SEER_ATTEMPT"
ENV_POD_NAME = "SEER_POD_NAME"
#: The pod's own IP (Kubernetes; a ``status.podIP`` fieldRef), for torchrun's ``--local-addr``.
ENV_POD_IP = "SEER_POD_IP"
#: The operator's default worker image (the chart sets it on the operator's Deployment).
ENV_WORKER_IMAGE = "SEER_WORKER_IMAGE"
#: The chart's ``workerDefaults.imagePullPolicy`` and ``workerDefaults.serviceAccountName`` (operator env).
ENV_WORKER_IMAGE_PULL_POLICY = "SEER_WORKER_IMAGE_PULL_POLICY"
ENV_WORKER_SERVICE_ACCOUNT = "SEER_WORKER_SERVICE_ACCOUNT"
ENV_OMP_NUM_THREADS = "OMP_NUM_THREADS"
#: Non-secret object-storage settings copied from ``spec.storage``.
ENV_STORAGE_ENDPOINT = "AWS_ENDPOINT_URL"
ENV_STORAGE_REGION = "AWS_REGION"
#: S3 addressing style (``spec.storage.addressingStyle``: ``path`` for MinIO and most
#: S3-compatible stores, ``virtual``); unset means botocore's ``auto``. The trainer passes it
#: to s3fs as ``config_kwargs={"s3": {"addressing_style": ...}}`` (``seer.trainer.storage``).
ENV_S3_ADDRESSING_STYLE = "SEER_S3_ADDRESSING_STYLE"
#: Google's standard variable: the path of a service-account JSON key (gcsfs, google-auth).
ENV_GOOGLE_CREDENTIALS = "GOOGLE_APPLICATION_CREDENTIALS"
#: The key of ``spec.storage.secretName`` that holds a GCS service-account JSON key, and
#: where a worker pod mounts it (read-only) when the job uses ``gs://`` (Kubernetes).
GCS_SECRET_KEY = "gcs-service-account.json"
GCS_CREDENTIALS_DIR = "/var/run/secrets/seer/gcs"
#: Keys read from the Secret named in ``spec.storage.secretName`` (Kubernetes), with
#: whether each may be missing. Locally the same variables come from the user's shell.
STORAGE_SECRET_KEYS: tuple[tuple[str, bool], ...] = (
    ("AWS_ACCESS_KEY_ID", False),
    ("AWS_SECRET_ACCESS_KEY", False),
    ("AWS_SESSION_TOKEN", True),
)

#: What every worker runs: ``torchrun ... -m seer.trainer``.
TRAINER_MODULE = "seer.trainer"

# ----------------------------------------------------------------------------- exit codes

EXIT_OK = 0
EXIT_FAILED = 1  #: application error: a bug, bad data everywhere, NaN loss... (fatal)
EXIT_BAD_SPEC = 2  #: the job file is invalid (fatal; seerctl and argparse use 2 as well)
EXIT_RETRYABLE = 75  #: EX_TEMPFAIL: preempted (final checkpoint written) or lost a peer

RETRYABLE_EXIT_CODES = frozenset({EXIT_RETRYABLE})


def is_retryable_exit(code: int | None) -> bool:
    """True for our retryable code and for deaths by signal (no code, negative, or 128+N
    from a shell)."""
    if code is None:
        return True
    return code in RETRYABLE_EXIT_CODES or code < 0 or code >= 128


# ----------------------------------------------------------------------------- Kubernetes

LABEL_JOB = "seer.dev/job-name"
LABEL_ROLE = "seer.dev/role"
LABEL_SLOT = "seer.dev/worker-slot"
LABEL_RESTART = "seer.dev/restart"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "seer-operator"
ROLE_WORKER = "worker"
ROLE_RENDEZVOUS = "rendezvous"

#: Prefix of the operator's annotations (kopf's progress and diff-base storage too).
ANNOTATION_PREFIX = "seer.dev"
ANNOTATION_SPEC_HASH = "seer.dev/spec-hash"
FINALIZER = "seer.dev/operator"

CONTAINER_TRAINER = "trainer"
CONTAINER_RENDEZVOUS = "rendezvous"
#: The one writable place of a worker or rendezvous container on Kubernetes besides
#: ``/dev/shm``: the root filesystem is read-only, so an emptyDir at /tmp holds everything
#: Python, torch, inductor and triton write outside the checkpoint store, and these
#: variables point them there (the image's HOME is not writable under a read-only root).
#: One folder, not one per tool: any image works. Part of ``worker_env`` on Kubernetes.
SCRATCH_DIR = "/tmp"
SCRATCH_ENV: dict[str, str] = {
    "TMPDIR": SCRATCH_DIR,
    "HOME": f"{SCRATCH_DIR}/home",
    "XDG_CACHE_HOME": f"{SCRATCH_DIR}/cache",
    "TORCHINDUCTOR_CACHE_DIR": f"{SCRATCH_DIR}/cache/torchinductor",
    "TRITON_CACHE_DIR": f"{SCRATCH_DIR}/cache/triton",
}

#: Volumes of the operator's pods (shared memory, the /tmp scratch, the GCS key): a pod
#: template may not name its own volumes so (``seer.platform.pod_template``).
RESERVED_VOLUMES: tuple[str, ...] = ("dshm", "tmp", "gcs-credentials")

# ----------------------------------------------------------------------------- ports

RDZV_PORT = 29400  #: the rendezvous pod's TCPStore (c10d rendezvous endpoint)
OPERATOR_METRICS_PORT = 8080  #: the operator's Prometheus metrics
OPERATOR_LIVENESS_PORT = 8081  #: kopf's /healthz
