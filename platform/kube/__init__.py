"""Seer on Kubernetes, client side: the SeerJob status contract (``status``), the one
Kubernetes API edge (``client``, shared with the operator), the custom resource and its
creation (``resource``), and the TorchX scheduler ``kubernetes`` (``scheduler``).

Must not import ``seer.operators`` or ``seer.trainer`` (the platform is the base layer;
docs/architecture.md).
"""
