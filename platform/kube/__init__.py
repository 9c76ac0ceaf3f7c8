"""Seer on Kubernetes, client side: the SeerJob status contract, the Kubernetes API
edge used by ``seerctl`` and the TorchX scheduler ``kubernetes``.

Must not import ``seer.operators`` (dependency direction, DESIGN.md section 1).
"""
