"""A stateful Kubernetes API emulator for tests, on kmock 0.8.

``kmock.KubernetesEmulator`` serves objects over HTTP but misses what kopf and the
``kubernetes`` client rely on (listed below). This subclass keeps its own
store and fills the gaps: uid, resourceVersion, generation, creationTimestamp,
metadata.namespace; namespaces (cluster-scoped) and namespaced watches; label and
field selectors; list kinds; discovery with correct groupVersion, kinds, scope and
subresources (status, log); generateName; JSON content types on watches; PUT with
resourceVersion conflicts; merge/strategic/JSON patches with a resourceVersion
precondition; the status subresource; pods/log; finalizers and deletionTimestamp;
garbage collection of ownerReferenced children (Kubernetes' GC, emulated simply:
on final deletion of an owner, its dependents are deleted in cascade).

Still not emulated: admission, CRD schema validation (tests validate with
jsonschema), pod lifecycle (tests act as the kubelet), RBAC, server-side apply.

Use :func:`serve_in_thread` to run it on a localhost port and write a kubeconfig.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import random
import string
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp.web
import kmock
import yaml


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    subresources: tuple[str, ...] = ()
    short_names: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


DEFAULT_KINDS = (
    Kind("", "v1", "pods", "Pod", subresources=("status", "log")),
    Kind("", "v1", "services", "Service", subresources=("status",)),
    Kind("", "v1", "events", "Event"),
    Kind("", "v1", "secrets", "Secret"),
    Kind("", "v1", "configmaps", "ConfigMap"),
    Kind("", "v1", "namespaces", "Namespace", namespaced=False, subresources=("status",)),
    Kind("events.k8s.io", "v1", "events", "Event"),
    Kind("coordination.k8s.io", "v1", "leases", "Lease"),  # leader election
    Kind(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        subresources=("status",),
    ),
)


def kind_from_crd(crd: dict[str, Any]) -> Kind:
    spec = crd["spec"]
    version = next(v for v in spec["versions"] if v.get("storage"))
    return Kind(
        spec["group"],
        version["name"],
        spec["names"]["plural"],
        spec["names"]["kind"],
        namespaced=spec.get("scope", "Namespaced") == "Namespaced",
        subresources=tuple(version.get("subresources", {})),
        short_names=tuple(spec["names"].get("shortNames", [])),
    )


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (strategic merge is treated the same: lists replace)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: Any, ops: list[dict[str, Any]]) -> Any:
    doc = copy.deepcopy(target)
    for op in ops:
        parts = (
            [p.replace("~1", "/").replace("~0", "~") for p in op["path"].lstrip("/").split("/")] if op["path"] else []
        )
        parent = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent.setdefault(part, {})
        last = parts[-1] if parts else None
        kind = op["op"]
        if kind == "test":
            current = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if current != op.get("value"):
                raise ApiError(422, "Invalid", f"test failed at {op['path']}")
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                idx = len(parent) if last == "-" else int(last)
                parent.insert(idx, op["value"]) if kind == "add" else parent.__setitem__(idx, op["value"])
            else:
                parent[last] = op["value"]
        elif kind == "remove":
            del parent[int(last) if isinstance(parent, list) else last]
    return doc


def _match_labels(labels: dict[str, str], selector: str) -> bool:
    """Equality and set-based label selectors (=, ==, !=, in, notin, exists, !exists)."""
    for term in _split_terms(selector):
        term = term.strip()
        if not term:
            continue
        if " notin " in term or " in " in term:
            key, op, values = term.replace("(", " ").replace(")", " ").split(None, 2)
            allowed = {v.strip() for v in values.split(",") if v.strip()}
            if op == "in" and labels.get(key) not in allowed:
                return False
            if op == "notin" and key in labels and labels[key] in allowed:
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _split_terms(selector: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for ch in selector:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += ch
    return [*terms, current]


def _field(obj: dict[str, Any], path: str) -> Any:
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _match_fields(obj: dict[str, Any], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if str(_field(obj, key) or "") == value:
                return False
        else:
            key, value = term.replace("==", "=").split("=", 1)
            if str(_field(obj, key) or "") != value:
                return False
    return True


@dataclass
class _Resource:
    group: str
    version: str
    plural: str | None


@dataclass
class _Request:
    """A parsed API request. kmock's own parser fails on cluster-scoped paths such as
    ``/api/v1/namespaces`` (its 500), so the emulator parses paths itself."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    data: Any
    resource: _Resource | None
    namespace: str | None
    name: str | None
    subresource: str | None
    raw: aiohttp.web.BaseRequest

    @classmethod
    async def parse(cls, raw: aiohttp.web.BaseRequest, namespaced: set[tuple[str, str, str]]) -> "_Request":
        body = await raw.read()
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        parts = [p for p in raw.path.split("/") if p]
        resource = namespace = name = subresource = None
        if len(parts) >= 3 and parts[0] == "api" or len(parts) >= 4 and parts[0] == "apis":
            group, version, rest = ("", parts[1], parts[2:]) if parts[0] == "api" else (parts[1], parts[2], parts[3:])
            # /namespaces/<ns>/<plural>... is namespaced unless it is the namespace object itself
            if rest[0] == "namespaces" and len(rest) >= 3 and (group, version, rest[2]) in namespaced:
                namespace, rest = rest[1], rest[2:]
            resource = _Resource(group, version, rest[0])
            name = rest[1] if len(rest) > 1 else None
            subresource = "/".join(rest[2:]) or None
        return cls(
            raw.method.upper(),
            raw.path,
            dict(raw.query),
            dict(raw.headers),
            data,
            resource,
            namespace,
            name,
            subresource,
            raw,
        )


class KubeEmulator(kmock.KubernetesEmulator):
    """kmock's emulator with a Kubernetes-faithful store (see the module docstring)."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.kinds: dict[tuple[str, str, str], Kind] = {}
        self.store: dict[tuple[str, str, str | None, str], dict[str, Any]] = {}  # (group, plural, ns, name)
        self.logs: dict[tuple[str, str], str] = {}
        self.events_log: list[tuple[int, str, tuple[str, str], dict[str, Any]]] = []
        self.rv = 0
        self.requests_seen = 0
        self.changed = asyncio.Condition()
        self.deletions: list[dict[str, Any]] = []  # every DELETE request body, for assertions
        for kind in DEFAULT_KINDS:
            self.add_kind(kind)
        self._put_raw(self.kinds[("", "v1", "namespaces")], {"metadata": {"name": "default"}})

    # ---------------------------------------------------------------- public helpers

    def add_kind(self, kind: Kind) -> None:
        self.kinds[(kind.group, kind.version, kind.plural)] = kind

    def add_crd(self, crd: dict[str, Any]) -> None:
        self.add_kind(kind_from_crd(crd))
        self._put_raw(self.kinds[("apiextensions.k8s.io", "v1", "customresourcedefinitions")], copy.deepcopy(crd))

    def objects(self, group: str, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Snapshot of stored objects (deep copies), for assertions."""
        return [
            copy.deepcopy(o)
            for (g, p, ns, _), o in list(self.store.items())
            if g == group and p == plural and (namespace is None or ns == namespace)
        ]

    # ------------------------------------------------------------------- internals

    def _next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def _put_raw(self, kind: Kind, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", _now())
        meta["resourceVersion"] = self._next_rv()
        obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
        self.store[(kind.group, kind.plural, meta.get("namespace") if kind.namespaced else None, meta["name"])] = obj
        return obj

    async def _emit(self, kind: Kind, type_: str, obj: dict[str, Any]) -> None:
        self.events_log.append(
            (int(obj["metadata"]["resourceVersion"]), type_, (kind.group, kind.plural), copy.deepcopy(obj))
        )
        async with self.changed:
            self.changed.notify_all()

    def _kind(self, request: _Request) -> Kind:
        res = request.resource
        kind = self.kinds.get((res.group, res.version, res.plural))
        if kind is None:
            raise ApiError(
                404,
                "NotFound",
                f"the server could not find the requested resource ({res.group}/{res.version} {res.plural})",
            )
        return kind

    def _key(self, kind: Kind, namespace: str | None, name: str) -> tuple[str, str, str | None, str]:
        return (kind.group, kind.plural, namespace if kind.namespaced else None, name)

    def _get(self, kind: Kind, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.store.get(self._key(kind, namespace, name))
        if obj is None:
            raise ApiError(404, "NotFound", f'{kind.plural} "{name}" not found')
        return obj

    # ---------------------------------------------------------------------- serving

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        namespaced = {(k.group, k.version, k.plural) for k in self.kinds.values() if k.namespaced}
        request = await _Request.parse(raw_request, namespaced)
        self.requests_seen += 1
        try:
            if request.resource is None:
                return await self._discovery(request)
            kind = self._kind(request)
            method = request.method
            if method == "GET" and request.params.get("watch") in ("true", "1"):
                return await self._watch(request, kind)
            if method == "GET" and request.name is None:
                return self._json(self._list(request, kind))
            if method == "GET" and request.subresource == "log":
                pod = self._get(kind, request.namespace, request.name)
                text = self.logs.get((pod["metadata"]["namespace"], request.name), "")
                if "tailLines" in request.params:  # the API server's tailLines: the last N lines
                    tail = int(request.params["tailLines"])
                    text = "".join(text.splitlines(keepends=True)[-tail:] if tail else [])
                return aiohttp.web.Response(text=text, content_type="text/plain")
            if method == "GET":
                return self._json(self._get(kind, request.namespace, request.name))
            if method == "POST":
                return self._json(await self._create(request, kind), status=201)
            if method == "PUT":
                return self._json(await self._update(request, kind, replace=True))
            if method == "PATCH":
                return self._json(await self._update(request, kind, replace=False))
            if method == "DELETE" and request.name is None:
                return self._json(await self._delete_collection(request, kind))
            if method == "DELETE":
                return self._json(await self._delete(request, kind))
            raise ApiError(405, "MethodNotAllowed", f"{method} is not supported")
        except ApiError as e:
            return self._json(
                {
                    "apiVersion": "v1",
                    "kind": "Status",
                    "metadata": {},
                    "status": "Failure",
                    "code": e.code,
                    "reason": e.reason,
                    "message": e.message,
                },
                status=e.code,
            )

    @staticmethod
    def _json(payload: Any, status: int = 200) -> aiohttp.web.Response:
        return aiohttp.web.Response(text=json.dumps(payload), status=status, content_type="application/json")

    def _list(self, request: _Request, kind: Kind) -> dict[str, Any]:
        labels = request.params.get("labelSelector", "")
        fields = request.params.get("fieldSelector", "")
        items = [
            copy.deepcopy(o)
            for (g, p, ns, _), o in self.store.items()
            if g == kind.group
            and p == kind.plural
            and (request.namespace is None or ns == request.namespace)
            and _match_labels(o["metadata"].get("labels") or {}, labels)
            and _match_fields(o, fields)
        ]
        items.sort(key=lambda o: (o["metadata"].get("namespace") or "", o["metadata"]["name"]))
        return {
            "apiVersion": kind.api_version,
            "kind": f"{kind.kind}List",
            "metadata": {"resourceVersion": str(self.rv)},
            "items": items,
        }

    async def _watch(self, request: _Request, kind: Kind) -> aiohttp.web.StreamResponse:
        raw = request.raw
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(raw)
        since = int(request.params.get("resourceVersion") or 0)
        labels = request.params.get("labelSelector", "")
        fields = request.params.get("fieldSelector", "")
        timeout = float(request.params.get("timeoutSeconds") or 0) or None
        if since == 0:  # no resourceVersion: start with the current state, as ADDED events
            for obj in self._list(request, kind)["items"]:
                await response.write(json.dumps({"type": "ADDED", "object": obj}).encode() + b"\n")
            since = self.rv
        position = 0
        deadline = asyncio.get_running_loop().time() + timeout if timeout else None
        with contextlib.suppress(asyncio.TimeoutError, ConnectionResetError, asyncio.CancelledError):
            while True:
                while position < len(self.events_log):
                    rv, type_, (g, p), obj = self.events_log[position]
                    position += 1
                    if rv <= since or (g, p) != (kind.group, kind.plural):
                        continue
                    if request.namespace is not None and obj["metadata"].get("namespace") != request.namespace:
                        continue
                    if not _match_labels(obj["metadata"].get("labels") or {}, labels) or not _match_fields(obj, fields):
                        continue
                    await response.write(json.dumps({"type": type_, "object": obj}).encode() + b"\n")
                remaining = None if deadline is None else deadline - asyncio.get_running_loop().time()
                if remaining is not None and remaining <= 0:
                    break
                async with self.changed:
                    if position >= len(self.events_log):
                        await asyncio.wait_for(self.changed.wait(), timeout=remaining)
        with contextlib.suppress(Exception):
            await response.write_eof()
        return response

    async def _create(self, request: _Request, kind: Kind) -> dict[str, Any]:
        if request.subresource:
            raise ApiError(405, "MethodNotAllowed", f"cannot create {kind.plural}/{request.subresource}")
        obj = copy.deepcopy(request.data or {})
        meta = obj.setdefault("metadata", {})
        if kind.namespaced:
            meta["namespace"] = request.namespace or meta.get("namespace") or "default"
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise ApiError(422, "Invalid", "metadata.name or metadata.generateName is required")
            meta["name"] = meta["generateName"] + "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
        key = self._key(kind, meta.get("namespace"), meta["name"])
        if key in self.store:
            raise ApiError(409, "AlreadyExists", f'{kind.plural} "{meta["name"]}" already exists')
        for stale in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp"):
            meta.pop(stale, None)
        meta["generation"] = 1
        if "status" in kind.subresources and kind.plural != "pods":
            obj.pop("status", None)  # the status subresource owns it
        if kind.plural == "pods":
            obj.setdefault("status", {"phase": "Pending"})
        if kind.plural == "customresourcedefinitions":
            self.add_kind(kind_from_crd(obj))
        self._put_raw(kind, obj)
        await self._emit(kind, "ADDED", obj)
        return obj

    async def _update(self, request: _Request, kind: Kind, replace: bool) -> dict[str, Any]:
        current = self._get(kind, request.namespace, request.name)
        body = request.data
        content_type = request.headers.get("Content-Type", "")
        if replace:
            new = copy.deepcopy(body)
            wanted_rv = (body.get("metadata") or {}).get("resourceVersion")
        elif "json-patch" in content_type:
            new = json_patch(current, body)
            wanted_rv = None
        else:
            new = merge_patch(current, body)
            wanted_rv = ((body or {}).get("metadata") or {}).get("resourceVersion")
        if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {kind.plural} "{request.name}": '
                "the object has been modified; please apply your changes to the latest version and try again",
            )
        has_status = "status" in kind.subresources
        if request.subresource == "status":
            new = {**current, "status": new.get("status")}
        elif has_status:
            new["status"] = current.get("status")  # the main endpoint cannot change status
            if new["status"] is None:
                new.pop("status")
        meta = new.setdefault("metadata", {})
        for immutable in ("uid", "creationTimestamp", "namespace", "name", "deletionTimestamp", "generation"):
            if immutable in current["metadata"]:
                meta[immutable] = current["metadata"][immutable]
        if {k: v for k, v in new.items() if k not in ("metadata", "status")} != {
            k: v for k, v in current.items() if k not in ("metadata", "status")
        }:
            meta["generation"] = current["metadata"].get("generation", 1) + 1
        self._put_raw(kind, new)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            await self._remove(kind, new)
        else:
            await self._emit(kind, "MODIFIED", new)
        return new

    async def _delete(self, request: _Request, kind: Kind) -> dict[str, Any]:
        obj = self._get(kind, request.namespace, request.name)
        self.deletions.append(
            {"plural": kind.plural, "namespace": request.namespace, "name": request.name, "body": request.data or {}}
        )
        if obj["metadata"].get("finalizers"):
            if not obj["metadata"].get("deletionTimestamp"):
                obj["metadata"]["deletionTimestamp"] = _now()
                self._put_raw(kind, obj)
                await self._emit(kind, "MODIFIED", obj)
            return obj
        await self._remove(kind, obj)
        return obj

    async def _delete_collection(self, request: _Request, kind: Kind) -> dict[str, Any]:
        listed = self._list(request, kind)
        for item in listed["items"]:
            meta = item["metadata"]
            obj = self.store.get(self._key(kind, meta.get("namespace"), meta["name"]))
            if obj is not None:
                await self._remove(kind, obj)
        return listed

    async def _remove(self, kind: Kind, obj: dict[str, Any]) -> None:
        """Final deletion, then garbage collection of dependents (by owner uid)."""
        meta = obj["metadata"]
        self.store.pop(self._key(kind, meta.get("namespace"), meta["name"]), None)
        meta["resourceVersion"] = self._next_rv()
        await self._emit(kind, "DELETED", obj)
        uid = meta.get("uid")
        for (g, p, _ns, _name), child in list(self.store.items()):
            if any(ref.get("uid") == uid for ref in child["metadata"].get("ownerReferences") or []):
                child_kind = next(k for k in self.kinds.values() if (k.group, k.plural) == (g, p))
                if child["metadata"].get("finalizers"):
                    child["metadata"]["deletionTimestamp"] = child["metadata"].get("deletionTimestamp") or _now()
                    self._put_raw(child_kind, child)
                    await self._emit(child_kind, "MODIFIED", child)
                else:
                    await self._remove(child_kind, child)

    # -------------------------------------------------------------------- discovery

    async def _discovery(self, request: _Request) -> aiohttp.web.StreamResponse:
        path = request.path.rstrip("/")
        groups: dict[str, set[str]] = {}
        for kind in self.kinds.values():
            groups.setdefault(kind.group, set()).add(kind.version)
        if path in ("", "/"):
            return self._json({"paths": ["/api", "/api/v1", "/apis", "/version"] + [f"/apis/{g}" for g in groups if g]})
        if path == "/version":
            return self._json(
                {"major": "1", "minor": "31", "gitVersion": "v1.31.0-seer-emulator", "platform": "linux/amd64"}
            )
        if path == "/api":
            return self._json({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
        if path == "/apis":
            return self._json(
                {
                    "apiVersion": "v1",
                    "kind": "APIGroupList",
                    "groups": [
                        {
                            "name": g,
                            "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in sorted(vs)],
                            "preferredVersion": {"groupVersion": f"{g}/{sorted(vs)[-1]}", "version": sorted(vs)[-1]},
                        }
                        for g, vs in sorted(groups.items())
                        if g
                    ],
                }
            )
        parts = path.strip("/").split("/")
        if parts[0] == "apis" and len(parts) == 2:
            vs = sorted(groups.get(parts[1], ()))
            if not vs:
                raise ApiError(404, "NotFound", f"group {parts[1]} not found")
            return self._json(
                {
                    "apiVersion": "v1",
                    "kind": "APIGroup",
                    "name": parts[1],
                    "versions": [{"groupVersion": f"{parts[1]}/{v}", "version": v} for v in vs],
                    "preferredVersion": {"groupVersion": f"{parts[1]}/{vs[-1]}", "version": vs[-1]},
                }
            )
        group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2] if len(parts) > 2 else "")
        kinds = [k for k in self.kinds.values() if (k.group, k.version) == (group, version)]
        if not kinds:
            raise ApiError(404, "NotFound", f"{path} not found")
        resources = []
        for k in kinds:
            resources.append(
                {
                    "name": k.plural,
                    "singularName": k.kind.lower(),
                    "namespaced": k.namespaced,
                    "kind": k.kind,
                    "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                    "shortNames": list(k.short_names),
                }
            )
            for sub in k.subresources:
                resources.append(
                    {
                        "name": f"{k.plural}/{sub}",
                        "singularName": "",
                        "namespaced": k.namespaced,
                        "kind": k.kind,
                        "verbs": ["get"] if sub == "log" else ["get", "patch", "update"],
                    }
                )
        return self._json(
            {
                "apiVersion": "v1",
                "kind": "APIResourceList",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": resources,
            }
        )


@dataclass
class RunningEmulator:
    """An emulator served from a background thread (its own event loop)."""

    emulator: KubeEmulator
    loop: asyncio.AbstractEventLoop
    url: str

    def call(self, fn, *args: Any) -> Any:
        """Run ``fn(*args)`` on the emulator's loop (thread-safe store access)."""

        async def _run() -> Any:
            result = fn(*args)
            return await result if asyncio.iscoroutine(result) else result

        return asyncio.run_coroutine_threadsafe(_run(), self.loop).result(timeout=30)

    def objects(self, group: str, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.call(self.emulator.objects, group, plural, namespace)

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "emulator",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": "emulator-token"}}],
            "contexts": [
                {"name": "emulator", "context": {"cluster": "emulator", "user": "tester", "namespace": namespace}}
            ],
        }
        path.write_text(yaml.safe_dump(config))
        return path


@contextlib.contextmanager
def serve_in_thread(crds: list[dict[str, Any]] = ()) -> Iterator[RunningEmulator]:
    """Start the emulator on 127.0.0.1:<free port>; stop it on exit."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        emulator = KubeEmulator()
        for crd in crds:
            emulator.add_crd(crd)
        server = kmock.Server(emulator)
        async with emulator, server:
            state["emulator"], state["url"] = emulator, f"http://127.0.0.1:{server.port}"
            state["stop"] = asyncio.Event()
            ready.set()
            await state["stop"].wait()

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), name="kube-emulator", daemon=True)
    thread.start()
    if not ready.wait(timeout=30):
        raise RuntimeError("the Kubernetes emulator did not start within 30 s")
    try:
        yield RunningEmulator(state["emulator"], loop, state["url"])
    finally:
        loop.call_soon_threadsafe(state["stop"].set)
        thread.join(timeout=10)
