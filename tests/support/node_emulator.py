"""Emulated Kubernetes nodes for tests: the operator's pods run as real process trees.

The API emulator (``kube_emulator``) stores pods; nobody runs them. :class:`NodeEmulator`
plays kubelet + node controller + a one-pod-per-node scheduler:

- **Nodes** are Linux network namespaces (``ip netns``) with their own address in a
  private /24, joined by a bridge that lives in a *hub* namespace the emulator also
  creates (nothing is attached to the host's interfaces). One veth from the host into
  the hub lets the operator (which runs on the host) reach pod IPs, as it does in a
  cluster (metrics scraping). Traffic only ever goes to addresses of namespaces created
  here, or loopback.
- **Pods** are scheduled one per node (a worker wants a whole node), onto the first
  free healthy node; new nodes are made on demand up to ``capacity`` alive nodes, else
  the pod stays ``Pending``. Each pod's command runs under ``ip netns exec`` (network)
  and ``unshare --uts --pid`` (its hostname is the pod name, as in Kubernetes; its processes
live and die together, as in a container), with the
  pod's environment (``value``, ``fieldRef`` on ``metadata.name``/``metadata.namespace``/
  ``status.podIP``/``spec.nodeName``, ``secretKeyRef`` from the emulator's Secrets),
  ``$(VAR)`` expansion in the command (the kubelet's rule), and its volumes as temporary
  directories (mount namespaces are not used: a ``mountPath`` is not honoured).
- **DNS**: ``ip netns exec`` bind-mounts ``/etc/netns/<ns>/hosts`` over ``/etc/hosts``.
  Each node's file holds the pod's own name (the kubelet's hosts entry) and every
  Service of the namespace whose selector matches a running pod (a headless Service
  resolves to its pod's IP). Other pods' names do NOT resolve, as in a cluster. The
  file is rewritten in place (same inode) so the bind mount sees changes.
- **Status**, written through the API like a kubelet: ``Pending`` → ``Running`` with
  ``podIP``, ``hostIP``, ``startTime`` and a ``Ready`` condition (after the TCP readiness
  probe passes, if the pod has one) → ``Succeeded``/``Failed`` with the container's exit
  code and reason (``Completed``, ``Error``, or an injected one such as ``OOMKilled``).
  ``restartPolicy: Always`` containers are restarted in place (``restartCount`` + 1).
- **Deletion**: the API emulator removes a deleted pod at once (no graceful deletion);
  the node still sends SIGTERM to the process group, waits the grace period the DELETE
  asked for (else the pod's ``terminationGracePeriodSeconds``), then SIGKILL.

Fault injection: :meth:`NodeEmulator.kill_pod` (SIGKILL, exit 137, reason ``OOMKilled``
by default), :meth:`NodeEmulator.lose_node` (link cut first, so peers get no FIN/RST, as
with a power loss; processes killed; pods ``Failed`` with reason ``NodeLost`` and a
``DisruptionTarget``/``DeletionByTaintManager`` condition, as the node controller
reports), :meth:`NodeEmulator.partition` (link down for N seconds, processes keep
running), :meth:`NodeEmulator.evict` (what the Eviction API does: ``DisruptionTarget``/
``EvictionByEvictionAPI``, then a graceful delete).

Cleanup: every namespace, link and process is named/recorded by this object and removed
by :meth:`NodeEmulator.close` (also registered with ``atexit``); :func:`cleanup_stale`
removes leftovers of crashed runs by their prefix and dead owner pid.

Requires root and ``ip`` (iproute2) and ``unshare`` (util-linux): :func:`unavailable_reason`.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import datetime as _dt
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes

NETNS_PREFIX = "seermn-"  #: every namespace this module creates: seermn-<pid>-<role>
ETC_NETNS = Path("/etc/netns")
VENV_BIN = Path(sys.executable).parent


def unavailable_reason() -> str | None:
    """Why node emulation cannot run here (None when it can)."""
    if os.geteuid() != 0:
        return "node emulation needs root (network namespaces, veth links, unshare --uts)"
    for tool in ("ip", "unshare", "hostname"):
        if shutil.which(tool) is None:
            return f"node emulation needs `{tool}` (apt-get install iproute2 util-linux hostname)"
    probe = f"{NETNS_PREFIX}{os.getpid()}-probe"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    cmd = ["ip", *(["-n", netns] if netns else []), *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()}")
    return done


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cleanup_stale() -> list[str]:
    """Delete namespaces (and their /etc/netns dirs) left by dead emulator processes."""
    removed = []
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for line in listed.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.fullmatch(rf"{NETNS_PREFIX}(\d+)-.*", name)
        if m and not _pid_alive(int(m.group(1))):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
            shutil.rmtree(ETC_NETNS / name, ignore_errors=True)
            removed.append(name)
    for link in subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout.splitlines():
        m = re.match(r"\d+: (mn(\d+)r)[@:]", link)
        if m and not _pid_alive(int(m.group(2))):
            subprocess.run(["ip", "link", "del", m.group(1)], capture_output=True)
            removed.append(m.group(1))
    return removed


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------ network


@dataclass
class Node:
    name: str  # node-<i>
    netns: str
    ip: str
    hub_link: str  # the veth end in the hub namespace (down = cut off)
    lost: bool = False
    partitioned: bool = False
    pod: str | None = None


class Network:
    """A hub namespace with a bridge, one veth per node, one veth to the host."""

    def __init__(self, subnet_octet: int | None = None) -> None:
        pid = os.getpid()
        self.prefix = f"{NETNS_PREFIX}{pid}-"
        self.octet = subnet_octet if subnet_octet is not None else 20 + pid % 200
        self.net = f"10.213.{self.octet}"
        self.hub = f"{self.prefix}hub"
        self.host_link = f"mn{pid}r"[:15]
        self.nodes: list[Node] = []
        self._made: list[str] = []
        _ip("netns", "add", self.hub)
        self._made.append(self.hub)
        _ip("link", "add", "br0", "type", "bridge", netns=self.hub)
        _ip("link", "set", "br0", "up", netns=self.hub)
        _ip("link", "set", "lo", "up", netns=self.hub)
        # the host's door into the cluster network (the operator scrapes pod IPs)
        _ip("link", "add", self.host_link, "type", "veth", "peer", "name", "hostp")
        _ip("link", "set", "hostp", "netns", self.hub)
        _ip("link", "set", "hostp", "master", "br0", netns=self.hub)
        _ip("link", "set", "hostp", "up", netns=self.hub)
        _ip("addr", "add", f"{self.net}.1/24", "dev", self.host_link)
        _ip("link", "set", self.host_link, "up")

    def add_node(self) -> Node:
        i = len(self.nodes)
        name = f"node-{i}"
        netns = f"{self.prefix}{name}"
        ip = f"{self.net}.{10 + i}"
        hub_link, node_link = f"n{i}h", f"mn{os.getpid()}n{i}"[:15]
        _ip("netns", "add", netns)
        self._made.append(netns)
        _ip("link", "add", node_link, "type", "veth", "peer", "name", hub_link, "netns", self.hub)
        _ip("link", "set", node_link, "netns", netns)
        _ip("link", "set", node_link, "name", "eth0", netns=netns)
        _ip("addr", "add", f"{ip}/24", "dev", "eth0", netns=netns)
        _ip("link", "set", "eth0", "up", netns=netns)
        _ip("link", "set", "lo", "up", netns=netns)
        _ip("link", "set", hub_link, "master", "br0", netns=self.hub)
        _ip("link", "set", hub_link, "up", netns=self.hub)
        (ETC_NETNS / netns).mkdir(parents=True, exist_ok=True)
        node = Node(name, netns, ip, hub_link)
        self.nodes.append(node)
        return node

    def set_link(self, node: Node, up: bool) -> None:
        _ip("link", "set", node.hub_link, "up" if up else "down", netns=self.hub)

    def destroy(self) -> None:
        for netns in reversed(self._made):
            subprocess.run(["ip", "netns", "del", netns], capture_output=True)
            shutil.rmtree(ETC_NETNS / netns, ignore_errors=True)
        subprocess.run(["ip", "link", "del", self.host_link], capture_output=True)
        self._made.clear()


# --------------------------------------------------------------------------- pods


@dataclass
class PodRun:
    """One pod bound to a node, and its current container process."""

    name: str
    uid: str
    node: Node
    manifest: dict[str, Any]
    log_path: Path
    volumes: dict[str, Path]
    proc: subprocess.Popen | None = None
    restart_count: int = 0
    injected_reason: str | None = None
    deleted: bool = False
    finished: bool = False  # a terminal status was written
    ready: bool = False
    started_at: float = 0.0
    events: list[tuple[float, str]] = field(default_factory=list)


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def expand(text: str, env: dict[str, str]) -> str:
    """The kubelet's ``$(VAR)`` expansion in command/args (unknown names stay as they are)."""
    return _VAR.sub(lambda m: env.get(m.group(1), m.group(0)), text)


class NodeEmulator:
    """Runs the pods of one namespace of an API emulator on emulated nodes (see module doc)."""

    def __init__(
        self,
        emulator: Any,  # kube_emulator.RunningEmulator
        api_client: kubernetes.client.ApiClient,
        workdir: Path,
        *,
        namespace: str = "default",
        capacity: int = 4,
        poll_seconds: float = 0.1,
        cwd: Path | None = None,
        base_env: dict[str, str] | None = None,
    ) -> None:
        self.emulator = emulator
        self.core = kubernetes.client.CoreV1Api(api_client)
        self.workdir = Path(workdir)
        self.namespace = namespace
        self.capacity = capacity
        self.poll_seconds = poll_seconds
        self.cwd = cwd or Path.cwd()
        self.base_env = dict(base_env or {})  # what the image would bring (e.g. PYTHONPATH)
        self.network = Network()
        self.pods: dict[str, PodRun] = {}  # by uid
        self.history: list[PodRun] = []
        self._mu = threading.RLock()
        self._stop = threading.Event()
        self._timers: list[threading.Timer] = []
        self._thread = threading.Thread(target=self._run, name="node-emulator", daemon=True)
        self._closed = False
        self.errors: list[str] = []
        atexit.register(self.close)
        self._thread.start()

    # ------------------------------------------------------------------ public

    def close(self) -> None:
        """Stop everything this emulator started: processes, timers, namespaces, links."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        for timer in self._timers:
            timer.cancel()
        self._thread.join(timeout=10)
        with self._mu:
            for run in list(self.pods.values()) + self.history:
                self._signal(run, signal.SIGKILL)
            for run in list(self.pods.values()) + self.history:
                if run.proc is not None:
                    with contextlib.suppress(Exception):
                        run.proc.wait(timeout=10)
        self.network.destroy()
        atexit.unregister(self.close)

    def run_of(self, pod_name: str) -> PodRun:
        """The newest run of a pod by name (current or finished)."""
        with self._mu:
            runs = [r for r in [*self.history, *self.pods.values()] if r.name == pod_name]
        if not runs:
            raise KeyError(f"pod {pod_name} was never scheduled")
        return runs[-1]

    def node_of(self, pod_name: str) -> Node:
        return self.run_of(pod_name).node

    def log(self, pod_name: str) -> str:
        return self.run_of(pod_name).log_path.read_text(errors="replace")

    def logs(self, prefix: str = "") -> dict[str, str]:
        """Every run's log (by ``<pod>#<restart>``), current and finished."""
        with self._mu:
            runs = [*self.history, *self.pods.values()]
        return {
            f"{r.name}": r.log_path.read_text(errors="replace")
            for r in runs
            if r.name.startswith(prefix) and r.log_path.exists()
        }

    def alive(self, pod_name: str) -> bool:
        """Whether the pod's container process runs now (False before it is scheduled)."""
        try:
            run = self.run_of(pod_name)
        except KeyError:
            return False
        return run.proc is not None and run.proc.poll() is None

    def kill_pod(self, pod_name: str, reason: str = "OOMKilled") -> None:
        """SIGKILL the pod's process tree; its status says ``reason`` with exit 137."""
        run = self._current(pod_name)
        run.injected_reason = reason
        run.events.append((time.time(), f"killed ({reason})"))
        self._signal(run, signal.SIGKILL)

    def lose_node(self, pod_name: str) -> Node:
        """The node under ``pod_name`` dies: link cut first (peers see no FIN), processes
        killed, the pod ``Failed``/``NodeLost`` as the node controller reports it."""
        run = self._current(pod_name)
        node = run.node
        with self._mu:
            self.network.set_link(node, False)
            node.lost = True
            run.injected_reason = "NodeLost"
            run.finished = True  # the node controller reports it, not the (dead) kubelet
            run.events.append((time.time(), "node lost"))
            self._signal(run, signal.SIGKILL)
            if run.proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    run.proc.wait(timeout=10)  # a lost node runs nothing any more
        message = f"node {node.name} which was running pod {pod_name} is unresponsive"
        self._patch_status(
            run,
            {
                "phase": "Failed",
                "reason": "NodeLost",
                "message": message,
                "conditions": [
                    {"type": "Ready", "status": "False", "lastTransitionTime": _now()},
                    {
                        "type": "DisruptionTarget",
                        "status": "True",
                        "reason": "DeletionByTaintManager",
                        "message": f"Taint manager: deleting due to NoExecute taint (node {node.name} unreachable)",
                        "lastTransitionTime": _now(),
                    },
                ],
            },
        )
        return node

    def partition(self, pod_name: str, seconds: float) -> Node:
        """Cut the node under ``pod_name`` off the network for ``seconds``, then heal it."""
        run = self._current(pod_name)
        node = run.node
        self.network.set_link(node, False)
        node.partitioned = True
        run.events.append((time.time(), f"partitioned for {seconds}s"))

        def heal() -> None:
            if self._closed or node.lost:
                return
            self.network.set_link(node, True)
            node.partitioned = False
            run.events.append((time.time(), "partition healed"))

        timer = threading.Timer(seconds, heal)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()
        return node

    def evict(self, pod_name: str) -> None:
        """What ``POST pods/<name>/eviction`` does: a DisruptionTarget condition, then a
        graceful delete with the pod's own grace period."""
        run = self._current(pod_name)
        run.events.append((time.time(), "evicted"))
        pod = self.core.read_namespaced_pod_status(pod_name, self.namespace, _preload_content=False)
        import json

        status = json.loads(pod.data).get("status") or {}
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "DisruptionTarget"]
        conditions.append(
            {
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "EvictionByEvictionAPI",
                "message": "Eviction API: evicting",
                "lastTransitionTime": _now(),
            }
        )
        self.core.patch_namespaced_pod_status(pod_name, self.namespace, {"status": {"conditions": conditions}})
        grace = run.manifest["spec"].get("terminationGracePeriodSeconds", 30)
        with contextlib.suppress(kubernetes.client.exceptions.ApiException):
            self.core.delete_namespaced_pod(
                pod_name, self.namespace, body=kubernetes.client.V1DeleteOptions(grace_period_seconds=grace)
            )

    def wait_all_exited(self, prefix: str, timeout: float = 120) -> None:
        """Until no process of pods named ``prefix*`` runs (deleted pods shut down gracefully)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._mu:
                running = [
                    r.name
                    for r in [*self.history, *self.pods.values()]
                    if r.name.startswith(prefix) and r.proc is not None and r.proc.poll() is None
                ]
            if not running:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"processes still running after {timeout}s: {running}")
            time.sleep(0.1)

    # ------------------------------------------------------------------ internals

    def _current(self, pod_name: str) -> PodRun:
        with self._mu:
            for run in self.pods.values():
                if run.name == pod_name:
                    return run
        raise KeyError(f"pod {pod_name} is not running on any node")

    def _signal(self, run: PodRun, sig: int) -> None:
        """SIGTERM goes to the container's main process (PID 1 of the pod's PID namespace,
        as a container runtime sends it); SIGKILL to ``unshare``, whose death kills that
        PID 1 and with it every process of the namespace (torchrun's workers run in
        sessions of their own, so a process-group kill would miss them)."""
        if run.proc is None or run.proc.poll() is not None:
            return
        target = run.proc.pid
        if sig != signal.SIGKILL:
            children = Path(f"/proc/{run.proc.pid}/task/{run.proc.pid}/children")
            with contextlib.suppress(OSError, ValueError, IndexError):
                target = int(children.read_text().split()[0])
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(target, sig)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception as e:  # noqa: BLE001 - a test reads self.errors; the loop must go on
                self.errors.append(f"{type(e).__name__}: {e}")
            self._stop.wait(self.poll_seconds)

    def _tick(self) -> None:
        pods = {p["metadata"]["uid"]: p for p in self.emulator.objects("", "pods", self.namespace)}
        with self._mu:
            for uid, run in list(self.pods.items()):
                if uid not in pods and not run.deleted:
                    self._on_deleted(run)
            for uid, pod in pods.items():
                if uid not in self.pods:
                    self._schedule(pod)
            for run in list(self.pods.values()):
                self._observe(run)
            self._write_hosts(pods)

    # scheduling and start

    def _free_node(self) -> Node | None:
        alive = [n for n in self.network.nodes if not n.lost]
        for node in alive:
            if node.pod is None:
                return node
        if len(alive) < self.capacity:
            return self.network.add_node()
        return None

    def _schedule(self, pod: dict[str, Any]) -> None:
        if (pod.get("status") or {}).get("phase") not in (None, "Pending"):
            return
        node = self._free_node()
        if node is None:
            return  # stays Pending: no node for it
        name, uid = pod["metadata"]["name"], pod["metadata"]["uid"]
        folder = self.workdir / "pods" / f"{name}-{uid[:8]}"
        folder.mkdir(parents=True, exist_ok=True)
        volumes = {}
        for vol in pod["spec"].get("volumes") or []:
            volumes[vol["name"]] = folder / "volumes" / vol["name"]
            volumes[vol["name"]].mkdir(parents=True, exist_ok=True)
        run = PodRun(name, uid, node, pod, folder / "container.log", volumes)
        node.pod = name
        self.pods[uid] = run
        self._write_hosts({uid: pod})
        self._start(run)
        self._patch_status(
            run,
            {
                "phase": "Running",
                "hostIP": node.ip,
                "podIP": node.ip,
                "podIPs": [{"ip": node.ip}],
                "startTime": _now(),
                "conditions": [
                    {"type": "PodScheduled", "status": "True"},
                    {"type": "Ready", "status": "False"},
                ],
                "containerStatuses": [self._container_status(run, {"running": {"startedAt": _now()}}, ready=False)],
            },
        )
        pod.setdefault("spec", {})["nodeName"] = node.name

    def _env(self, run: PodRun, container: dict[str, Any]) -> dict[str, str]:
        env = {
            "PATH": f"{VENV_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(run.log_path.parent),
            "HOSTNAME": run.name,
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "KUBERNETES_NODE_EMULATED": run.node.name,
            **self.base_env,
        }
        fields = {
            "metadata.name": run.name,
            "metadata.namespace": self.namespace,
            "metadata.uid": run.uid,
            "status.podIP": run.node.ip,
            "status.hostIP": run.node.ip,
            "spec.nodeName": run.node.name,
        }
        for item in container.get("env") or []:
            if "value" in item:
                env[item["name"]] = expand(str(item["value"]), env)
                continue
            source = item.get("valueFrom") or {}
            if "fieldRef" in source:
                path = source["fieldRef"]["fieldPath"]
                if path not in fields:
                    raise ValueError(f"pod {run.name}: env {item['name']}: fieldRef {path} is not emulated")
                env[item["name"]] = fields[path]
            elif "secretKeyRef" in source:
                ref = source["secretKeyRef"]
                value = self._secret_value(ref["name"], ref["key"])
                if value is None and not ref.get("optional"):
                    raise ValueError(f"pod {run.name}: secret {ref['name']}/{ref['key']} not found")
                if value is not None:
                    env[item["name"]] = value
        return env

    def _secret_value(self, name: str, key: str) -> str | None:
        for secret in self.emulator.objects("", "secrets", self.namespace):
            if secret["metadata"]["name"] == name:
                if key in (secret.get("stringData") or {}):
                    return secret["stringData"][key]
                if key in (secret.get("data") or {}):
                    return base64.b64decode(secret["data"][key]).decode()
        return None

    def _start(self, run: PodRun) -> None:
        container = run.manifest["spec"]["containers"][0]
        env = self._env(run, container)
        command = [expand(c, env) for c in [*(container.get("command") or []), *(container.get("args") or [])]]
        argv = [
            "ip",
            "netns",
            "exec",
            run.node.netns,
            "unshare",
            "--uts",
            "--pid",
            "--kill-child=SIGKILL",  # the container's main process dies with us: the whole PID namespace goes
            "--",
            "/bin/sh",
            "-c",
            'hostname "$0" && exec "$@"',
            run.name,
            *command,
        ]
        log = run.log_path.open("ab")
        log.write(f"--- node-emulator: start #{run.restart_count} on {run.node.name} ({run.node.ip})\n".encode())
        log.flush()
        run.proc = subprocess.Popen(
            argv, env=env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        run.started_at = time.time()
        run.ready = False

    def _container_status(self, run: PodRun, state: dict[str, Any], *, ready: bool) -> dict[str, Any]:
        container = run.manifest["spec"]["containers"][0]
        return {
            "name": container["name"],
            "image": container.get("image", ""),
            "imageID": "",
            "ready": ready,
            "started": "running" in state,
            "restartCount": run.restart_count,
            "state": state,
        }

    # observation

    def _probe_ok(self, run: PodRun) -> bool:
        probe = run.manifest["spec"]["containers"][0].get("readinessProbe") or {}
        port = (probe.get("tcpSocket") or {}).get("port")
        if port is None:
            return True
        try:
            with socket.create_connection((run.node.ip, int(port)), timeout=0.5):
                return True
        except OSError:
            return False

    def _observe(self, run: PodRun) -> None:
        if run.finished or run.proc is None:
            if run.deleted and (run.proc is None or run.proc.poll() is not None):
                self._release(run)
            return
        code = run.proc.poll()
        if code is None:
            if not run.ready and not run.deleted and not run.node.partitioned and self._probe_ok(run):
                run.ready = True
                self._patch_status(
                    run,
                    {
                        "conditions": [
                            {"type": "PodScheduled", "status": "True"},
                            {"type": "Ready", "status": "True", "lastTransitionTime": _now()},
                        ],
                        "containerStatuses": [
                            self._container_status(run, {"running": {"startedAt": _now()}}, ready=True)
                        ],
                    },
                )
            return
        exit_code = _exit_code(code)
        run.events.append((time.time(), f"exited {exit_code}"))
        if run.deleted:
            self._release(run)
            return
        reason = run.injected_reason or ("Completed" if exit_code == 0 else "Error")
        terminated = {"exitCode": exit_code, "reason": reason, "finishedAt": _now()}
        if run.manifest["spec"].get("restartPolicy") == "Always" and not run.node.lost:
            run.restart_count += 1
            run.injected_reason = None
            self._start(run)
            status = self._container_status(run, {"running": {"startedAt": _now()}}, ready=False)
            status["lastState"] = {"terminated": terminated}
            self._patch_status(
                run,
                {
                    "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"}],
                    "containerStatuses": [status],
                },
            )
            return
        run.finished = True
        self._patch_status(
            run,
            {
                "phase": "Succeeded" if exit_code == 0 else "Failed",
                "conditions": [
                    {"type": "PodScheduled", "status": "True"},
                    {"type": "Ready", "status": "False", "lastTransitionTime": _now()},
                ],
                "containerStatuses": [self._container_status(run, {"terminated": terminated}, ready=False)],
            },
        )
        self._push_log(run)
        if not run.node.lost:
            run.node.pod = None  # a finished pod no longer holds its node's resources

    def _on_deleted(self, run: PodRun) -> None:
        run.deleted = True
        run.events.append((time.time(), "deleted"))
        if run.proc is None or run.proc.poll() is not None:
            self._release(run)
            return
        grace = self._grace(run)
        self._signal(run, signal.SIGTERM)
        timer = threading.Timer(grace, self._signal, args=(run, signal.SIGKILL))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _grace(self, run: PodRun) -> float:
        asked = [
            d["body"].get("gracePeriodSeconds")
            for d in self.emulator.call(lambda: list(self.emulator.emulator.deletions))
            if d["plural"] == "pods" and d["name"] == run.name
        ]
        asked = [g for g in asked if g is not None]
        return float(asked[-1] if asked else run.manifest["spec"].get("terminationGracePeriodSeconds", 30))

    def _release(self, run: PodRun) -> None:
        if self.pods.pop(run.uid, None) is not None:
            self.history.append(run)
            if run.node.pod == run.name:
                run.node.pod = None

    def _patch_status(self, run: PodRun, status: dict[str, Any]) -> None:
        if run.deleted:
            return
        try:
            self.core.patch_namespaced_pod_status(run.name, self.namespace, {"status": status})
        except kubernetes.client.exceptions.ApiException as e:
            if e.status != 404:
                raise

    def _push_log(self, run: PodRun) -> None:
        text = run.log_path.read_text(errors="replace") if run.log_path.exists() else ""
        key = (self.namespace, run.name)
        self.emulator.call(lambda: self.emulator.emulator.logs.__setitem__(key, text))

    # DNS

    def _write_hosts(self, pods: dict[str, dict[str, Any]]) -> None:
        """Per node: localhost, its pod's own name, and every Service whose selector
        matches a pod that runs somewhere (headless: the pod's IP)."""
        services = self.emulator.objects("", "services", self.namespace)
        service_lines = []
        for svc in services:
            sel = (svc.get("spec") or {}).get("selector") or {}
            for run in self.pods.values():
                labels = run.manifest["metadata"].get("labels") or {}
                if sel and all(labels.get(k) == v for k, v in sel.items()) and not run.node.lost:
                    if run.proc is not None and run.proc.poll() is None and not run.deleted:
                        name = svc["metadata"]["name"]
                        service_lines.append(
                            f"{run.node.ip}\t{name} {name}.{self.namespace} {name}.{self.namespace}.svc"
                            f" {name}.{self.namespace}.svc.cluster.local"
                        )
                        break
        for node in self.network.nodes:
            if node.lost:
                continue
            own = f"{node.ip}\t{node.pod}\n" if node.pod else ""
            text = "127.0.0.1\tlocalhost\n::1\tlocalhost\n" + own + "".join(line + "\n" for line in service_lines)
            path = ETC_NETNS / node.netns / "hosts"
            if not path.exists() or path.read_text() != text:
                with path.open("r+" if path.exists() else "w") as f:  # same inode: bind mounts see it
                    f.seek(0)
                    f.write(text)
                    f.truncate()
