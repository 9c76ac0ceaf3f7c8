"""``spec.template``: the user's pod-template override of worker pods, and how it merges (pure).

PyTorchJob users schedule workers through a pod template, Trainer v2 users through a podSpec
override; this is Seer's equivalent, a validated *subset* of a PodTemplateSpec merged into the
pods the operator builds with strategic-merge semantics:

- ``metadata.labels``/``annotations``: added; the operator's own keys win.
- ``schedulerName``, ``serviceAccountName``, ``priorityClassName``, ``affinity``: the template's value.
- ``nodeSelector``: merged key by key (the template's value wins over ``resources.nodeSelector``).
- ``tolerations``: appended (duplicates dropped); ``imagePullSecrets``, ``initContainers``,
  ``volumes``: merged by ``name``.
- ``containers``: merged by ``name``. The entry named ``trainer`` may carry only ``env``
  (merged by name), ``volumeMounts`` (merged by name) and ``resources.limits`` (merged key by
  key); any other entry is a sidecar, added as written.
- ``securityContext`` (pod level): merged; ``runAsUser: 0`` (NGC-style images that run as root)
  removes the operator's ``runAsNonRoot: true``, which would otherwise keep such a pod from starting.

What the operator always owns (refused at validation, or overwritten in the merge, so a
template can never break the worker contract): the trainer's ``command``, ``args``, ``image``
and ``ports``; every env variable the operator sets (``SEER_*`` names are refused; others such as
``OMP_NUM_THREADS``, ``AWS_*`` and the scratch variables are overwritten by the operator's
value); its volumes (``contract.RESERVED_VOLUMES``, refused); labels and annotations under
``seer.dev/`` and ``app.kubernetes.io/managed-by``; ``restartPolicy`` and the termination grace.
Standard library and pydantic only: the spec, the operator and ``seerctl --dry-run`` import it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator
from pydantic.alias_generators import to_camel

from seer.platform.contract import CONTAINER_TRAINER, RESERVED_VOLUMES
from seer.platform.spec_types import DNS_SUBDOMAIN, LabelMap

__all__ = ["PodTemplate", "apply_pod_template", "merge_by_name", "runs_as_root"]

#: A Kubernetes object kept as written (the API server validates it when the pod is created).
KubeObject = Annotated[dict[str, Any], WithJsonSchema({"type": "object", "x-kubernetes-preserve-unknown-fields": True})]

#: The only keys of the ``trainer`` container entry a template may set.
TRAINER_KEYS = frozenset({"name", "env", "volumeMounts", "resources"})
#: Env names the template may not set (the worker contract; ``seer.platform.contract``).
OWNED_ENV_PREFIX = "SEER_"


class _Part(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=False, extra="forbid")


class TemplateMetadata(_Part):
    """Labels and annotations added to worker pods."""

    labels: LabelMap = Field(default_factory=dict, description="Extra pod labels (the operator's keys win).")
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Extra pod annotations (the operator's `seer.dev/` keys win)."
    )


class PodSecurity(_Part):
    """Pod-level security settings a template may change."""

    run_as_user: int | None = Field(default=None, description="UID; 0 (root) drops runAsNonRoot.", ge=0)
    run_as_group: int | None = Field(default=None, description="GID of the processes.", ge=0)
    fs_group: int | None = Field(default=None, description="Group owning mounted volumes.", ge=0)
    supplemental_groups: list[int] = Field(default_factory=list, description="Extra groups of the processes.")


def _names(items: Iterable[dict[str, Any]], field: str) -> list[str]:
    names = []
    for i, item in enumerate(items):
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"template.spec.{field}[{i}] needs a `name` (entries merge by name)")
        names.append(name)
    return names


def _check_trainer(container: dict[str, Any]) -> None:
    extra = sorted(set(container) - TRAINER_KEYS)
    if extra:
        raise ValueError(
            f"template.spec.containers[name=trainer] sets {', '.join(extra)}: the operator owns the trainer's "
            "command, args, image and ports; only env, volumeMounts and resources.limits may be set "
            "(the image: resources.image)"
        )
    resources = container.get("resources") or {}
    if set(resources) - {"limits"}:
        raise ValueError(
            "template.spec.containers[name=trainer].resources may set `limits` only: requests come from "
            "resources.cpu, resources.memory and resources.gpusPerNode"
        )
    env = container.get("env") or []
    for name in _names(env, "containers[name=trainer].env"):
        if name.startswith(OWNED_ENV_PREFIX):
            raise ValueError(
                f"template env {name} is the operator's (every SEER_* variable is the worker contract): remove it"
            )
    _names(container.get("volumeMounts") or [], "containers[name=trainer].volumeMounts")


class TemplateSpec(_Part):
    """The PodSpec fields a template may set on worker pods."""

    affinity: KubeObject | None = Field(default=None, description="Affinity of worker pods (as in a PodSpec).")
    scheduler_name: str | None = Field(default=None, description="Scheduler of worker pods (e.g. volcano).")
    service_account_name: Annotated[str, DNS_SUBDOMAIN] | None = Field(
        default=None, description="ServiceAccount of worker pods (overrides the chart's workerDefaults)."
    )
    priority_class_name: Annotated[str, DNS_SUBDOMAIN] | None = Field(
        default=None, description="PriorityClass of worker pods (overrides resources.priorityClassName)."
    )
    node_selector: LabelMap = Field(
        default_factory=dict, description="Node labels, merged over resources.nodeSelector."
    )
    tolerations: list[KubeObject] = Field(default_factory=list, description="Tolerations added to the job's.")
    image_pull_secrets: list[KubeObject] = Field(
        default_factory=list, description="Secrets for pulling images (`name:`), also on the rendezvous pod."
    )
    security_context: PodSecurity | None = Field(default=None, description="Pod-level security settings.")
    init_containers: list[KubeObject] = Field(default_factory=list, description="Init containers (merged by name).")
    containers: list[KubeObject] = Field(
        default_factory=list,
        description="`trainer` (env, volumeMounts, resources.limits only) and sidecars (full containers).",
    )
    volumes: list[KubeObject] = Field(default_factory=list, description="Extra volumes (merged by name).")

    @field_validator("init_containers", "containers")
    @classmethod
    def _containers(cls, value: list[dict[str, Any]], info: Any) -> list[dict[str, Any]]:
        field = to_camel(info.field_name)
        names = _names(value, field)
        if len(set(names)) != len(names):
            raise ValueError(f"template.spec.{field} names a container twice")
        for container in value:
            if field == "containers" and container["name"] == CONTAINER_TRAINER:
                _check_trainer(container)
            elif not container.get("image"):
                raise ValueError(f"template.spec.{field}[name={container['name']}] needs an `image`")
        return value

    @field_validator("volumes")
    @classmethod
    def _volumes(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for name in _names(value, "volumes"):
            if name in RESERVED_VOLUMES:
                raise ValueError(
                    f"template volume {name!r} is one of the operator's ({', '.join(RESERVED_VOLUMES)}): rename it"
                )
        return value

    @field_validator("image_pull_secrets")
    @classmethod
    def _pull_secrets(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        _names(value, "imagePullSecrets")
        return value


class PodTemplate(_Part):
    """A pod-template override of worker pods (strategic merge; see docs/operator.md)."""

    metadata: TemplateMetadata = Field(default_factory=TemplateMetadata, description="Extra labels and annotations.")
    spec: TemplateSpec = Field(default_factory=TemplateSpec, description="PodSpec fields to set or merge.")

    def document(self) -> dict[str, Any]:
        """The template as Kubernetes keys, unset fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)


# ------------------------------------------------------------------------------------ merge


def merge_by_name(base: list[dict[str, Any]], extra: list[dict[str, Any]], *, base_wins: bool) -> list[dict[str, Any]]:
    """``base`` then ``extra``'s new names; a shared name keeps ``base``'s entry when
    ``base_wins`` (what the operator owns), else ``extra``'s. Order: base's, then extra's new."""
    by_name = {item["name"]: item for item in extra}
    merged = [item if base_wins or item["name"] not in by_name else by_name[item["name"]] for item in base]
    taken = {item["name"] for item in base}
    return merged + [item for item in extra if item["name"] not in taken]


def runs_as_root(template: PodTemplate | None) -> bool:
    """True when the template asks for UID 0 (the pod then has no ``runAsNonRoot``)."""
    security = template.spec.security_context if template else None
    return bool(security and security.run_as_user == 0)


def _merge_trainer(container: dict[str, Any], override: dict[str, Any]) -> None:
    container["env"] = merge_by_name(container.get("env") or [], override.get("env") or [], base_wins=True)
    container["volumeMounts"] = merge_by_name(
        container.get("volumeMounts") or [], override.get("volumeMounts") or [], base_wins=True
    )
    limits = (override.get("resources") or {}).get("limits") or {}
    if limits:
        resources = container.setdefault("resources", {})
        resources["limits"] = {**resources.get("limits", {}), **limits}


def apply_pod_template(pod: dict[str, Any], template: PodTemplate | None, *, worker: bool = True) -> dict[str, Any]:
    """A copy of ``pod`` with ``template`` merged in (module docstring: the rules, what the
    operator owns). ``worker=False`` (the rendezvous pod): only ``imagePullSecrets`` and the pod
    ``securityContext``, since it runs the same image (a root image needs both) but is not a
    training pod. ``pod`` is not modified."""
    merged = copy.deepcopy(pod)
    if template is None:
        return merged
    doc = template.document()
    extra, meta = doc.get("spec", {}), doc.get("metadata", {})
    spec = merged["spec"]
    if extra.get("imagePullSecrets"):
        spec["imagePullSecrets"] = merge_by_name(
            spec.get("imagePullSecrets") or [], extra["imagePullSecrets"], base_wins=False
        )
    if "securityContext" in extra:
        security = dict(spec.get("securityContext") or {})
        if runs_as_root(template):
            security.pop("runAsNonRoot", None)
        spec["securityContext"] = {**security, **extra["securityContext"]}
    if not worker:
        return merged
    metadata = merged["metadata"]
    for key in ("labels", "annotations"):
        if meta.get(key):
            metadata[key] = {**meta[key], **(metadata.get(key) or {})}
    for key in ("schedulerName", "serviceAccountName", "priorityClassName", "affinity"):
        if key in extra:
            spec[key] = extra[key]
    if extra.get("nodeSelector"):
        spec["nodeSelector"] = {**(spec.get("nodeSelector") or {}), **extra["nodeSelector"]}
    if extra.get("tolerations"):
        base = spec.get("tolerations") or []
        spec["tolerations"] = base + [t for t in extra["tolerations"] if t not in base]
    for key in ("initContainers", "volumes"):
        if extra.get(key):
            spec[key] = merge_by_name(spec.get(key) or [], extra[key], base_wins=True)
    containers = spec["containers"]
    for override in extra.get("containers", []):
        own = next((c for c in containers if c["name"] == override["name"]), None)
        if own is not None and own["name"] == CONTAINER_TRAINER:
            _merge_trainer(own, override)
        elif own is None:
            containers.append(copy.deepcopy(override))
    return merged
