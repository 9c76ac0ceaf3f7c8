"""The `SeerJob` spec: the single source of truth for a training job.

One pydantic v2 model tree. It is read from a YAML job file by ``seerctl``, turned
into the CRD's ``openAPIV3Schema`` (``seer.platform.crd``), handed to every worker
(``SEER_JOB_SPEC``) and read back by the operator. Defaults live here and nowhere
else (docs/architecture.md, "Decisions and why").

Invariants:
- Every field has a description (it becomes ``kubectl explain`` text), a default a
  beginner can live with, and bounds.
- Unknown keys are errors: a misspelled key must never be silently ignored.
- Documents use camelCase keys (Kubernetes convention); Python code reads the
  snake_case attributes. Only the camelCase spelling is accepted in documents, so a
  job file and the custom resource are the same text.
- Cross-field rules (min <= max nodes, crops lists of equal length, a queue at least
  one global batch long, ...) are checked here, so a bad job fails before anything
  is written or started.
"""

from __future__ import annotations

import hashlib
import json
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel

from seer.platform.pod_template import PodTemplate
from seer.platform.spec_types import (
    DNS_LABEL,
    DNS_SUBDOMAIN,
    IMAGE_REFERENCE,
    LABEL_KEY,
    LABEL_VALUE,
    MEMORY_QUANTITY,
    CpuQuantity,
    LabelMap,
    StorageUrl,
    reject_loose_number,
)
from seer.platform.variants import VARIANTS, RegNetDesign

API_GROUP = "seer.dev"
API_VERSION = "v1alpha1"
KIND = "SeerJob"

#: Where the image is published; the chart and a job file can override it.
DEFAULT_IMAGE = "ghcr.io/seer-platform/seer:0.1.0"

#: Job names become pod names ``<name>-worker-<i>-<restart>``: keep room for the suffix.
MAX_NAME_LENGTH = 40


class _Section(BaseModel):
    """Base for every spec section: camelCase keys, unknown keys rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=False,
        extra="forbid",
        validate_assignment=True,
        use_enum_values=True,
        frozen=False,
        allow_inf_nan=False,  # NaN passes every bound check; refuse it as "must be a finite number"
        hide_input_in_errors=True,  # a refused value may be a secret: keep it out of logged errors
    )

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """`true` or `"8"` is not a number (lax pydantic reads `true` as 1), for every field."""
        field = cls.model_fields.get(info.field_name or "")
        return reject_loose_number(field.annotation, value) if field is not None else value


def cel_rules(*rules: tuple[str, str]) -> ConfigDict:
    """Cross-field rules the API server enforces too, as CRD ``x-kubernetes-validations``.

    Each ``(rule, message)`` is a CEL expression over ``self`` (the section, camelCase keys,
    defaults already applied by the API server) that must hold; it sits on the model next to
    the Python validator that checks the same thing, so ``kubectl apply`` of an invalid
    SeerJob is refused at admission with the message seerctl would print. Rules that CEL
    cannot express (per-index comparisons, "was this key written by the user") stay in
    Python only: the operator then marks such a job ``Failed/InvalidSpec``.
    """
    return ConfigDict(json_schema_extra={"x-kubernetes-validations": [{"rule": r, "message": m} for r, m in rules]})


#: Admission's answer to an edit of a running job (``immutable_while_running``).
IMMUTABLE_MESSAGE = (
    "the spec of a running job cannot change (only spec.suspend can): suspend it (spec.suspend: true), "
    "edit it, then resume; the workers restart from the latest checkpoint with the new spec"
)


def immutable_while_running(*sections: str) -> tuple[str, str]:
    """A CEL transition rule (``oldSelf``: the stored spec; the API server checks it on
    updates only): ``sections`` may change only while the job is, or becomes, suspended.

    Why: running pods keep the spec they started with, so an edit reaching only new pods
    would mix two jobs in one group (``--nnodes 1:2`` next to ``1:3``, two models); with
    every pod stopped (suspended) an edit applies to all of them alike."""
    same = " && ".join(f"self.{name} == oldSelf.{name}" for name in sections)
    return f"oldSelf.suspend || self.suspend || ({same})", IMMUTABLE_MESSAGE


# --------------------------------------------------------------------------- metadata


class Metadata(_Section):
    """Who the job is: its name, namespace and labels."""

    name: Annotated[str, DNS_LABEL] = Field(
        description=(
            "Job name, unique per scheduler: lowercase letters, digits and '-', starting and "
            f"ending with a letter or digit, at most {MAX_NAME_LENGTH} characters (DNS-1123 label)."
        ),
        min_length=1,
        max_length=MAX_NAME_LENGTH,
    )
    namespace: Annotated[str, DNS_LABEL] = Field(
        default="default",
        description="Kubernetes namespace of the job (ignored by the local scheduler).",
        min_length=1,
        max_length=63,
    )
    labels: LabelMap = Field(
        default_factory=dict, description="Labels copied onto the custom resource and every worker pod."
    )


# ------------------------------------------------------------------------------ model


class DesignSpace(_Section):
    """Explicit RegNet design-space parameters (instead of a named variant)."""

    depth: int = Field(description="Total number of blocks across all stages.", ge=1, le=200)
    w0: int = Field(description="Initial width (channels) of the first block; a multiple of 8.", ge=8, le=8192)
    wa: float = Field(description="Width slope of the linear width function.", gt=0, le=10000)
    wm: float = Field(description="Width multiplier: the quantisation base of stage widths.", gt=1, le=10)
    group_width: int = Field(description="Channels per group of the 3x3 grouped convolution.", ge=1, le=8192)
    se_ratio: float = Field(
        default=0.25,
        description="Squeeze-excitation width as a share of the block input width (0 disables SE).",
        ge=0,
        le=1,
    )
    stem_width: int = Field(default=32, description="Channels of the 3x3 stride-2 stem convolution.", ge=8, le=1024)

    def to_design(self) -> RegNetDesign:
        return RegNetDesign(
            depth=self.depth,
            w0=self.w0,
            wa=self.wa,
            wm=self.wm,
            group_width=self.group_width,
            se_ratio=self.se_ratio,
            stem_width=self.stem_width,
        )


class HeadSpec(_Section):
    """The SwAV projection head: Linear -> BatchNorm -> ReLU -> Linear, L2-normalised."""

    hidden_dim: int = Field(default=2048, description="Width of the projection head's hidden layer.", ge=8, le=65536)
    output_dim: int = Field(
        default=128, description="Dimension of the L2-normalised embedding compared with the prototypes.", ge=8, le=8192
    )


class ModelSpec(_Section):
    """The network: a RegNetY trunk and the SwAV head."""

    variant: str | None = Field(
        default="regnety_400mf",
        description="Named RegNetY variant (see `seerctl models`); set to null when `design` is given.",
    )
    design: DesignSpace | None = Field(
        default=None, description="Explicit design-space parameters; replaces `variant`."
    )
    head: HeadSpec = Field(default_factory=HeadSpec, description="SwAV projection head dimensions.")

    @field_validator("variant")
    @classmethod
    def _known_variant(cls, value: str | None) -> str | None:
        if value is not None and value not in VARIANTS:
            raise ValueError(f"unknown model variant {value!r}; valid variants: {', '.join(VARIANTS)}")
        return value

    @model_validator(mode="after")
    def _variant_xor_design(self) -> "ModelSpec":
        if self.design is not None and "variant" in self.model_fields_set and self.variant is not None:
            raise ValueError("set either `variant` or `design`, not both (set `variant: null` to use `design`)")
        return self

    def resolved_design(self) -> RegNetDesign:
        """The design the trainer builds: the explicit one, else the named variant's."""
        if self.design is not None:
            return self.design.to_design()
        assert self.variant is not None, "validated: variant or design is set"
        return VARIANTS[self.variant].design

    @property
    def display_name(self) -> str:
        return self.variant if self.design is None and self.variant else "custom"


# ------------------------------------------------------------------------------- swav


class CropsSpec(_Section):
    """Multi-crop: parallel lists, one entry per resolution group (VISSL's layout)."""

    model_config = cel_rules(
        ("size(self.counts) == size(self.sizes)", "`counts` needs one entry per crop size in `sizes`"),
        ("size(self.minScale) == size(self.sizes)", "`minScale` needs one entry per crop size in `sizes`"),
        ("size(self.maxScale) == size(self.sizes)", "`maxScale` needs one entry per crop size in `sizes`"),
    )

    sizes: list[Annotated[int, Field(ge=8, le=1024)]] = Field(
        default=[224, 96], description="Crop size in pixels per resolution group.", min_length=1, max_length=8
    )
    counts: list[Annotated[int, Field(ge=1, le=32)]] = Field(
        default=[2, 6], description="Number of crops per resolution group.", min_length=1, max_length=8
    )
    min_scale: list[Annotated[float, Field(gt=0, le=1)]] = Field(
        default=[0.14, 0.05],
        description="Smallest share of the image area a crop covers, per group.",
        min_length=1,
        max_length=8,
    )
    max_scale: list[Annotated[float, Field(gt=0, le=1)]] = Field(
        default=[1.0, 0.14],
        description="Largest share of the image area a crop covers, per group.",
        min_length=1,
        max_length=8,
    )

    @model_validator(mode="after")
    def _parallel_lists(self) -> "CropsSpec":
        n = len(self.sizes)
        for key, values in (("counts", self.counts), ("minScale", self.min_scale), ("maxScale", self.max_scale)):
            if len(values) != n:
                raise ValueError(f"`{key}` has {len(values)} entries but `sizes` has {n}: give one entry per crop size")
        for i, (lo, hi) in enumerate(zip(self.min_scale, self.max_scale, strict=False)):
            if lo > hi:
                raise ValueError(f"minScale[{i}]={lo} is larger than maxScale[{i}]={hi}")
        return self

    @property
    def total(self) -> int:
        return sum(self.counts)


class QueueSpec(_Section):
    """SwAV's feature queue: stabilises assignments when the batch is small."""

    length: int = Field(
        default=0,
        description="Rows of stored embeddings across all ranks (0 disables the queue; SwAV used 3840 for small "
        "batches). Must be at least one global batch.",
        ge=0,
        le=1_000_000,
    )
    start_epoch: int = Field(
        default=15, description="First epoch (0-based) in which the queue is used.", ge=0, le=100_000
    )


class SwavSpec(_Section):
    """SwAV hyper-parameters. Defaults as published (Caron et al., 2020)."""

    num_prototypes: int = Field(default=3000, description="Number of prototypes (SEER used 16000).", ge=2, le=1_000_000)
    temperature: float = Field(default=0.1, description="Softmax temperature of the swapped prediction.", gt=0, le=10)
    epsilon: float = Field(default=0.05, description="Entropic regularisation of Sinkhorn-Knopp.", gt=0, le=10)
    sinkhorn_iterations: int = Field(default=3, description="Sinkhorn-Knopp iterations (SEER used 10).", ge=1, le=100)
    crops: CropsSpec = Field(default_factory=CropsSpec, description="Multi-crop resolutions, counts and scale ranges.")
    assignment_crops: list[Annotated[int, Field(ge=0, le=255)]] = Field(
        default=[0, 1],
        description="Indices of the crops whose codes are predicted from the other crops.",
        min_length=1,
        max_length=16,
    )
    queue: QueueSpec = Field(default_factory=QueueSpec, description="Feature queue.")
    freeze_prototypes_steps: int = Field(
        default=313, description="Optimizer steps during which the prototypes are not updated.", ge=0, le=10_000_000
    )

    @model_validator(mode="after")
    def _assignment_crops_exist(self) -> "SwavSpec":
        total = self.crops.total
        bad = [i for i in self.assignment_crops if i >= total]
        if bad:
            raise ValueError(f"assignmentCrops {bad} do not exist: there are {total} crops (indices 0..{total - 1})")
        if len(set(self.assignment_crops)) != len(self.assignment_crops):
            raise ValueError("assignmentCrops lists a crop twice")
        return self


# ------------------------------------------------------------------------------ optim


class OptimizerName(str, Enum):
    lars = "lars"
    sgd = "sgd"


class OptimSpec(_Section):
    """Optimizer and learning-rate schedule (linear warmup, then cosine)."""

    model_config = cel_rules(
        ("self.warmupEpochs <= double(self.epochs)", "warmupEpochs is longer than epochs"),
    )

    name: OptimizerName = Field(
        default=OptimizerName.lars, description="`lars` (LARC-style trust ratio, BN and bias excluded) or `sgd`."
    )
    base_lr: float = Field(
        default=0.3,
        description="Learning rate per `referenceBatch` images; scaled linearly with the global batch.",
        gt=0,
        le=100,
    )
    reference_batch: int = Field(
        default=256, description="Global batch size that `baseLr` is given for.", ge=1, le=1_000_000
    )
    final_lr_ratio: float = Field(
        default=0.001,
        description="Final learning rate as a share of the peak, reached at the end of the cosine.",
        ge=0,
        le=1,
    )
    momentum: float = Field(default=0.9, description="SGD momentum.", ge=0, lt=1)
    weight_decay: float = Field(
        default=1e-6, description="Weight decay (not applied to BatchNorm and bias parameters).", ge=0, le=1
    )
    lars_eta: float = Field(default=0.001, description="LARS trust coefficient.", gt=0, le=1)
    epochs: int = Field(default=100, description="Passes over the data.", ge=1, le=100_000)
    max_steps: int | None = Field(
        default=None,
        description="Stop after this many optimizer steps even if `epochs` are not done.",
        ge=1,
        le=1_000_000_000,
    )
    warmup_epochs: float = Field(
        default=10.0, description="Epochs of linear warmup from 0 to the peak learning rate.", ge=0, le=100_000
    )

    @model_validator(mode="after")
    def _warmup_fits(self) -> "OptimSpec":
        if self.warmup_epochs > self.epochs:
            raise ValueError(f"warmupEpochs={self.warmup_epochs} is longer than epochs={self.epochs}")
        return self


# ------------------------------------------------------------------------------- data


class DataFormat(str, Enum):
    auto = "auto"
    images = "images"
    webdataset = "webdataset"


class AugmentSpec(_Section):
    """Per-crop augmentation, applied on tensors (SwAV's recipe)."""

    flip_prob: float = Field(default=0.5, description="Probability of a horizontal flip.", ge=0, le=1)
    jitter_strength: float = Field(
        default=1.0, description="Colour jitter strength s (brightness/contrast/saturation 0.8s, hue 0.2s).", ge=0, le=4
    )
    jitter_prob: float = Field(default=0.8, description="Probability of colour jitter.", ge=0, le=1)
    grayscale_prob: float = Field(default=0.2, description="Probability of converting a crop to grayscale.", ge=0, le=1)
    blur_prob: float = Field(default=0.5, description="Probability of a Gaussian blur (sigma 0.1-2.0).", ge=0, le=1)
    solarize_prob: float = Field(default=0.0, description="Probability of solarisation.", ge=0, le=1)


class DataSpec(_Section):
    """Where images come from and how they are loaded."""

    sources: list[StorageUrl] = Field(
        default=["./data/images"],
        description="fsspec URLs (local path, file://, s3://, gs://) of a prefix of image files or of WebDataset "
        ".tar shards.",
        min_length=1,
        max_length=10_000,
    )
    format: DataFormat = Field(
        default=DataFormat.auto,
        description="`images`, `webdataset`, or `auto` (tar shards when the URLs name .tar files).",
    )
    batch_size: int = Field(
        default=64,
        description="Images per worker process per step (the global batch is this times the number of processes).",
        ge=1,
        le=65536,
    )
    loader_workers: int = Field(
        default=4,
        description="Data-loader processes per worker process (0 loads in the training process).",
        ge=0,
        le=128,
    )
    prefetch_factor: int = Field(default=2, description="Batches each loader process prepares ahead.", ge=1, le=64)
    index: str | None = Field(
        default=None,
        description=(
            "URL of the prebuilt sample index (`seerctl data index`). Unset: `.seer-index/` next to the data is "
            "used when present, else every process lists and scans the data itself (small datasets only)."
        ),
        min_length=1,
    )
    augment: AugmentSpec = Field(default_factory=AugmentSpec, description="Augmentation probabilities and strengths.")

    @field_validator("sources")
    @classmethod
    def _non_empty_urls(cls, values: list[str]) -> list[str]:
        for i, url in enumerate(values):
            if not url.strip():
                raise ValueError(f"sources[{i}] is empty: give a path or URL such as s3://bucket/images/")
        return values


# ------------------------------------------------------------------------- checkpoint


class CheckpointSpec(_Section):
    """Where and how often checkpoints are written (torch.distributed.checkpoint)."""

    url: StorageUrl | None = Field(
        default=None,
        description="fsspec URL of the checkpoint directory (s3://, gs://, file://, path). Default: `checkpoints/` "
        "in the local run directory; required on Kubernetes.",
    )
    interval_steps: int | None = Field(
        default=500, description="Save every this many steps (null: only by time).", ge=1, le=100_000_000
    )
    interval_seconds: float | None = Field(
        default=None,
        description="Save when this many seconds passed since the last save (null: only by steps).",
        gt=0,
        le=10_000_000,
    )
    keep_last: int = Field(default=3, description="Complete checkpoints kept; older ones are deleted.", ge=1, le=1000)
    async_save: bool = Field(
        default=True, description="Write in the background while training continues (at most one save in flight)."
    )
    preemption_budget_seconds: float = Field(
        default=25.0,
        description="Time allowed for the final checkpoint after SIGTERM; fits Kubernetes' default 30 s grace period.",
        gt=0,
        le=3600,
    )


class StorageSpec(_Section):
    """Object-storage access for data and checkpoints. Credentials are never inline."""

    secret_name: Annotated[str, DNS_SUBDOMAIN] | None = Field(
        default=None,
        description=(
            "Kubernetes Secret with the workers' storage credentials: for s3:// its keys AWS_ACCESS_KEY_ID,"
            " AWS_SECRET_ACCESS_KEY (and optional AWS_SESSION_TOKEN) become environment variables; for gs:// its key"
            " `gcs-service-account.json` (a service-account JSON key) is mounted as a file named by"
            " GOOGLE_APPLICATION_CREDENTIALS. Leave it empty for workload identity / IRSA."
            " Locally the environment is used."
        ),
    )
    endpoint_url: StorageUrl | None = Field(
        default=None, description="S3-compatible endpoint (e.g. MinIO, R2); not a secret."
    )
    region: str | None = Field(default=None, description="Object-storage region.")
    addressing_style: Literal["auto", "path", "virtual"] = Field(
        default="auto",
        description=(
            "S3 addressing: `path` (endpoint/bucket/key; MinIO and most S3-compatible stores),"
            " `virtual` (bucket.endpoint/key) or `auto` (the client decides)."
        ),
    )


# -------------------------------------------------------------------------- resources


class NodesSpec(_Section):
    """Elastic node range: the job runs while at least `min` nodes are present."""

    model_config = cel_rules(
        ("self.min <= self.max", "nodes.min is larger than nodes.max"),
    )

    min: int = Field(default=1, description="Fewest nodes the job runs on.", ge=1, le=4096)
    max: int = Field(default=1, description="Most nodes the job runs on.", ge=1, le=4096)


class Toleration(_Section):
    """A Kubernetes toleration (same fields as in a Pod spec)."""

    key: Annotated[str, LABEL_KEY] | None = Field(
        default=None, description="Taint key the toleration applies to.", max_length=317
    )
    operator: Literal["Exists", "Equal"] = Field(default="Equal", description="`Exists` or `Equal`.")
    value: Annotated[str, LABEL_VALUE] | None = Field(
        default=None, description="Taint value for `Equal`.", max_length=63
    )
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        default=None, description="Taint effect to tolerate (all when empty)."
    )
    toleration_seconds: int | None = Field(
        default=None, description="How long a NoExecute taint is tolerated (at most 30 days).", ge=0, le=2_592_000
    )


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class ResourcesSpec(_Section):
    """Nodes, processes and what each worker pod requests."""

    model_config = cel_rules(
        (
            "self.gpusPerNode == 0 || self.procsPerNode <= self.gpusPerNode",
            "procsPerNode is larger than gpusPerNode: run one process per GPU",
        ),
    )

    nodes: NodesSpec = Field(default_factory=NodesSpec, description="Elastic node range (one worker pod per node).")
    procs_per_node: int = Field(
        default=1, description="Training processes per node (one per GPU on GPU nodes).", ge=1, le=64
    )
    gpus_per_node: int = Field(default=0, description="GPUs requested per node (nvidia.com/gpu).", ge=0, le=64)
    device: Device = Field(default=Device.auto, description="`cuda`, `cpu`, or `auto` (CUDA when available).")
    threads_per_proc: int | None = Field(
        default=None, description="Intra-op CPU threads per process (default: cores / processes).", ge=1, le=512
    )
    cpu: CpuQuantity = Field(default="4", description="CPU request (and limit) per worker pod, Kubernetes quantity.")
    memory: Annotated[str, MEMORY_QUANTITY] = Field(
        default="16Gi", description="Memory request (and limit) per worker pod, Kubernetes quantity."
    )
    node_selector: LabelMap = Field(default_factory=dict, description="Node labels a worker pod requires.")
    tolerations: list[Toleration] = Field(default_factory=list, description="Taints worker pods tolerate.")
    priority_class_name: Annotated[str, DNS_SUBDOMAIN] | None = Field(
        default=None, description="PriorityClass of worker pods.", max_length=253
    )
    image: Annotated[str, IMAGE_REFERENCE] | None = Field(
        default=None,
        description="Container image of the workers (default: the operator's configured image, "
        f"{DEFAULT_IMAGE} unless the chart overrides it).",
        min_length=1,
    )

    @model_validator(mode="after")
    def _consistent(self) -> "ResourcesSpec":
        if self.nodes.min > self.nodes.max:
            raise ValueError(f"nodes.min={self.nodes.min} is larger than nodes.max={self.nodes.max}")
        if self.gpus_per_node and self.procs_per_node > self.gpus_per_node:
            raise ValueError(
                f"procsPerNode={self.procs_per_node} exceeds gpusPerNode={self.gpus_per_node}: run one process per GPU"
            )
        if self.device == Device.cuda.value and self.gpus_per_node == 0 and "gpus_per_node" in self.model_fields_set:
            raise ValueError("device is `cuda` but gpusPerNode is 0")
        return self


# ---------------------------------------------------------------------------- training


class Precision(str, Enum):
    bf16 = "bf16"
    fp16 = "fp16"
    fp32 = "fp32"


class Parallelism(str, Enum):
    auto = "auto"
    ddp = "ddp"
    fsdp = "fsdp"
    hsdp = "hsdp"


class ActivationCheckpointing(str, Enum):
    auto = "auto"
    on = "on"
    off = "off"


class TrainingSpec(_Section):
    """Numerics and performance switches of the training loop."""

    @field_validator("activation_checkpointing", mode="before")
    @classmethod
    def _checkpointing_bool(cls, value: Any) -> Any:
        """Job files written before ``auto`` existed say true/false."""
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value

    precision: Precision = Field(
        default=Precision.bf16,
        description="Compute dtype under FSDP2 mixed precision: bf16, fp16 or fp32 (BatchNorm always runs in fp32).",
    )
    parallelism: Parallelism = Field(
        default=Parallelism.auto,
        description="Data parallelism: auto replicates (no wrapper for one process, DDP for several) when the "
        "estimated per-GPU memory fits, else HSDP (shard within a node), else FSDP2 over all ranks; or ddp, fsdp, "
        "hsdp.",
    )
    activation_checkpointing: ActivationCheckpointing = Field(
        default=ActivationCheckpointing.auto,
        description="Recompute block activations in the backward pass to save memory: auto (on only when the "
        "estimate says the batch would not fit), on or off (true/false are accepted).",
    )
    channels_last: bool = Field(default=True, description="Use the channels_last memory format.")
    compile: bool = Field(default=False, description="Compile the model with torch.compile.")
    seed: int = Field(
        default=0, description="Seed of every random choice (data order, augmentation, init).", ge=0, le=2**31 - 1
    )
    log_every_steps: int = Field(
        default=10, description="Write a progress line every this many steps.", ge=1, le=1_000_000
    )
    collective_timeout_seconds: int = Field(
        default=600,
        description="A collective (all-reduce, all-gather) waiting this long for a peer fails the step as a lost "
        "peer (exit 75, retried): the survivors re-rendezvous without the vanished node instead of hanging until "
        "the backend's default (30 min for gloo).",
        ge=30,
        le=86_400,
    )


class RestartReason(str, Enum):
    preemption = "preemption"
    eviction = "eviction"
    node_loss = "nodeLoss"
    oom_kill = "oomKill"
    signal = "signal"


class RestartSpec(_Section):
    """What happens when workers die."""

    model_config = cel_rules(
        ("self.backoffSeconds <= self.maxBackoffSeconds", "backoffSeconds is larger than maxBackoffSeconds"),
    )

    max_restarts: int = Field(default=10, description="Restarts allowed before the job fails.", ge=0, le=10_000)
    backoff_seconds: float = Field(
        default=10.0, description="Delay before the first restart; doubles each time.", ge=0, le=86_400
    )
    max_backoff_seconds: float = Field(default=300.0, description="Longest delay between restarts.", ge=0, le=86_400)
    retry_on: list[RestartReason] = Field(
        default_factory=lambda: list(RestartReason),
        description="Failure causes that are retried; any other failure (an application error) fails the job.",
    )
    pending_timeout_seconds: int = Field(
        default=900,
        description="Kubernetes: fail the job when fewer than nodes.min workers can start for this long because a "
        "pod cannot be scheduled, its Secret is missing or its image cannot be pulled (the reason is in the "
        "WorkersBlocked condition from the start).",
        ge=30,
        le=604_800,
    )

    @model_validator(mode="after")
    def _backoff_order(self) -> "RestartSpec":
        if self.backoff_seconds > self.max_backoff_seconds:
            raise ValueError(
                f"backoffSeconds={self.backoff_seconds} is larger than maxBackoffSeconds={self.max_backoff_seconds}"
            )
        return self


class MetricsSpec(_Section):
    """The Prometheus exporter in every worker."""

    enabled: bool = Field(default=True, description="Serve Prometheus metrics from every worker process.")
    port: int = Field(
        default=9450,
        description="Port of local rank 0; local rank r serves on port + r. 0 picks free ports (local runs).",
        ge=0,
        le=65535,
    )


class EvalSpec(_Section):
    """kNN and linear-probe evaluation on frozen features of a labelled image folder."""

    enabled: bool = Field(default=False, description="Evaluate at the end of training (rank 0).")
    train_url: StorageUrl | None = Field(
        default=None, description="Labelled images `<url>/<class>/<file>` the probes are fitted on."
    )
    test_url: StorageUrl | None = Field(default=None, description="Held-out labelled images the probes are scored on.")
    image_size: int = Field(default=224, description="Evaluation image size in pixels.", ge=8, le=1024)
    knn_k: int = Field(default=20, description="Neighbours of the kNN classifier.", ge=1, le=1000)
    linear_epochs: int = Field(default=100, description="Epochs of the linear probe.", ge=1, le=10_000)
    compare_random_init: bool = Field(
        default=True, description="Also score the same network at random initialisation, as a baseline."
    )

    @model_validator(mode="after")
    def _urls_when_enabled(self) -> "EvalSpec":
        if self.enabled and not (self.train_url and self.test_url):
            raise ValueError("eval is enabled: set both `trainUrl` and `testUrl`")
        return self


class GangScheduler(str, Enum):
    none = "none"
    volcano = "volcano"
    coscheduling = "coscheduling"


class SchedulingSpec(_Section):
    """How the job waits for and gets its nodes: a Kueue queue, and all-or-nothing (gang) placement.

    ``queue``: the operator creates a Kueue ``Workload`` for the job and runs no worker
    until Kueue admits it; when Kueue evicts (preempts) it, the workers stop exactly as
    for ``suspend`` (final checkpoint) and resume from that step on readmission.
    ``gang``: a ``PodGroup`` with ``minMember = nodes.min`` and the gang scheduler's name
    on every worker, so a job starts on ``nodes.min`` nodes at once or not at all.
    See docs/operator.md, "Queueing and gang scheduling"."""

    queue: Annotated[str, DNS_LABEL, Field(max_length=63)] | None = Field(  # also the Workload's label value
        default=None,
        description="Kueue LocalQueue (in the job's namespace) the job waits in; unset: no queue, start at once.",
    )
    gang: GangScheduler = Field(
        default=GangScheduler.none,
        description="Gang scheduling: `none`, `volcano` (Volcano PodGroup) or `coscheduling` (scheduler-plugins "
        "PodGroup); minMember = resources.nodes.min.",
    )
    scheduler_name: Annotated[str, DNS_SUBDOMAIN, Field(max_length=253)] | None = Field(
        default=None,
        description="schedulerName of worker pods with a gang; unset: `volcano` for volcano, `scheduler-plugins-"
        "scheduler` (scheduler-plugins' chart default) for coscheduling.",
    )


# ---------------------------------------------------------------------------- the job


_RUNNING_SECTIONS = ("model", "swav", "optim", "data", "checkpoint", "storage", "resources", "training", "restart")
_RUNNING_SECTIONS += ("metrics", "eval", "template", "scheduling")


class SeerJobSpec(_Section):
    """Everything about the job except its identity. This is the CRD's `spec`."""

    #: Every section but ``suspend`` (a test checks that a new section is not forgotten).
    model_config = cel_rules(immutable_while_running(*_RUNNING_SECTIONS))

    model: ModelSpec = Field(default_factory=ModelSpec, description="The network.")
    swav: SwavSpec = Field(default_factory=SwavSpec, description="SwAV hyper-parameters.")
    optim: OptimSpec = Field(default_factory=OptimSpec, description="Optimizer and schedule.")
    data: DataSpec = Field(default_factory=DataSpec, description="Training data.")
    checkpoint: CheckpointSpec = Field(default_factory=CheckpointSpec, description="Checkpointing.")
    storage: StorageSpec = Field(default_factory=StorageSpec, description="Object-storage access.")
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec, description="Nodes, processes and pod resources.")
    training: TrainingSpec = Field(default_factory=TrainingSpec, description="Numerics and performance switches.")
    restart: RestartSpec = Field(default_factory=RestartSpec, description="Restart policy.")
    metrics: MetricsSpec = Field(default_factory=MetricsSpec, description="Prometheus exporter.")
    eval: EvalSpec = Field(default_factory=EvalSpec, description="Evaluation of the learned features.")
    template: PodTemplate = Field(
        default_factory=PodTemplate,
        description="Pod-template override of worker pods (strategic merge; the operator owns the trainer's "
        "command, image, ports and SEER_* env). See docs/operator.md.",
    )
    scheduling: SchedulingSpec = Field(
        default_factory=SchedulingSpec, description="Queueing (Kueue) and gang scheduling (Volcano, coscheduling)."
    )
    suspend: bool = Field(
        default=False, description="Stop the workers after a final checkpoint; set back to false to continue."
    )

    @model_validator(mode="after")
    def _cross_section(self) -> "SeerJobSpec":
        queue = self.swav.queue.length
        batch = self.max_global_batch
        if queue and queue < batch:
            raise ValueError(
                f"swav.queue.length={queue} is shorter than the largest global batch ({batch} = "
                f"data.batchSize {self.data.batch_size} x procsPerNode {self.resources.procs_per_node} x "
                f"nodes.max {self.resources.nodes.max}): make it at least {batch}, or 0 to disable the queue"
            )
        return self

    @property
    def max_global_batch(self) -> int:
        r = self.resources
        return self.data.batch_size * r.procs_per_node * r.nodes.max


class SeerJob(_Section):
    """A Seer training job: the job file and the Kubernetes custom resource."""

    api_version: Literal["seer.dev/v1alpha1"] = Field(
        default=f"{API_GROUP}/{API_VERSION}", description="Always seer.dev/v1alpha1."
    )
    kind: Literal["SeerJob"] = Field(default=KIND, description="Always SeerJob.")
    metadata: Metadata = Field(description="Name, namespace and labels.")
    spec: SeerJobSpec = Field(default_factory=SeerJobSpec, description="What to train and how.")

    @property
    def name(self) -> str:
        return self.metadata.name

    def to_document(self) -> dict[str, Any]:
        """The camelCase document (YAML/JSON/custom resource), defaults filled in."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=False)

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_document(), sort_keys=False)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_document(), indent=indent)

    def spec_hash(self) -> str:
        """Stable hash of what is trained (the spec without `suspend`): checkpoints record it."""
        doc = self.spec.model_dump(mode="json", by_alias=True, exclude={"suspend"})
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]
