"""``seerctl submit -s kubernetes`` creates the SeerJob itself: no AppDef, no TorchX, no
job document re-parsed from an environment variable on the way."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from import_blocker import blocking_prelude

SCRIPT = blocking_prelude("torchx") + textwrap.dedent(
    """
    import json

    from seer.platform.backends.kube import KubernetesBackend
    from seer.platform.kube.resource import custom_resource
    from seer.platform.spec import SeerJob

    class RecordingClient:
        def __init__(self):
            self.created = []

        def get(self, namespace, name):
            return None

        def create(self, doc):
            self.created.append(doc)
            return {**doc, "metadata": {**doc["metadata"], "uid": "u-1"}}

    job = SeerJob.model_validate({
        "metadata": {"name": "direct"},
        "spec": {"data": {"sources": ["s3://b/i/"]}, "checkpoint": {"url": "s3://b/c/"}},
    })
    client = RecordingClient()
    name = KubernetesBackend(namespace="team-x", client=client).submit(job)
    print(json.dumps({
        "name": name,
        "created": client.created,
        "expected": custom_resource(job, "team-x"),
        "torchx_loaded": any(m.split(".")[0] == "torchx" for m in sys.modules),
    }))
    """
)


def test_submit_creates_the_custom_resource_directly_without_torchx():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["name"] == "direct" and not result["torchx_loaded"]
    assert result["created"] == [result["expected"]]
    assert result["created"][0]["metadata"]["namespace"] == "team-x"
