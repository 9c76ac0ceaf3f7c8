"""Structural JSON schemas of the prometheus-operator kinds the chart renders.

kubernetes-validate knows only built-in kinds, so ServiceMonitor, PodMonitor and
PrometheusRule are checked against these: the fields we use, with the types and
required keys of the monitoring.coreos.com/v1 CRDs (prometheus-operator v0.7x), and
additionalProperties: false where a typo would otherwise be silently ignored by the
operator (it prunes unknown fields).
"""

from __future__ import annotations

from typing import Any

_DURATION = {"type": "string", "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}
_STR_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_METADATA = {
    "type": "object",
    "required": ["name", "namespace"],
    "properties": {"name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"}, "namespace": {"type": "string"}, "labels": _STR_MAP, "annotations": _STR_MAP},
}
_LABEL_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"matchLabels": _STR_MAP, "matchExpressions": {"type": "array"}},
}
_NAMESPACE_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}},
}
_RELABEL = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "sourceLabels": {"type": "array", "items": {"type": "string", "pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$"}},
        "separator": {"type": "string"},
        "targetLabel": {"type": "string"},
        "regex": {"type": "string"},
        "modulus": {"type": "integer"},
        "replacement": {"type": "string"},
        "action": {"enum": ["replace", "Replace", "keep", "Keep", "drop", "Drop", "hashmod", "HashMod", "labelmap", "LabelMap", "labeldrop", "LabelDrop", "labelkeep", "LabelKeep", "lowercase", "uppercase", "keepequal", "dropequal"]},
    },
}
_ENDPOINT_COMMON = {
    "port": {"type": "string"},
    "path": {"type": "string"},
    "scheme": {"enum": ["http", "https"]},
    "interval": _DURATION,
    "scrapeTimeout": _DURATION,
    "honorLabels": {"type": "boolean"},
    "relabelings": {"type": "array", "items": _RELABEL},
    "metricRelabelings": {"type": "array", "items": _RELABEL},
}


def _kind(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {"apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": kind}, "metadata": _METADATA, "spec": spec},
    }


SCHEMAS: dict[str, dict[str, Any]] = {
    "ServiceMonitor": _kind("ServiceMonitor", {
        "type": "object",
        "required": ["selector", "endpoints"],
        "additionalProperties": False,
        "properties": {
            "selector": _LABEL_SELECTOR,
            "namespaceSelector": _NAMESPACE_SELECTOR,
            "jobLabel": {"type": "string"},
            "endpoints": {"type": "array", "minItems": 1, "items": {"type": "object", "additionalProperties": False, "properties": {**_ENDPOINT_COMMON, "targetPort": {"type": ["string", "integer"]}}}},
        },
    }),
    "PodMonitor": _kind("PodMonitor", {
        "type": "object",
        "required": ["selector", "podMetricsEndpoints"],
        "additionalProperties": False,
        "properties": {
            "selector": _LABEL_SELECTOR,
            "namespaceSelector": _NAMESPACE_SELECTOR,
            "jobLabel": {"type": "string"},
            "podMetricsEndpoints": {"type": "array", "minItems": 1, "items": {"type": "object", "additionalProperties": False, "properties": _ENDPOINT_COMMON}},
        },
    }),
    "PrometheusRule": _kind("PrometheusRule", {
        "type": "object",
        "required": ["groups"],
        "additionalProperties": False,
        "properties": {
            "groups": {"type": "array", "items": {
                "type": "object",
                "required": ["name", "rules"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "interval": _DURATION,
                    "rules": {"type": "array", "items": {
                        "type": "object",
                        "required": ["expr"],
                        "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
                        "additionalProperties": False,
                        "properties": {
                            "alert": {"type": "string"},
                            "record": {"type": "string"},
                            "expr": {"type": ["string", "integer"]},
                            "for": _DURATION,
                            "keep_firing_for": _DURATION,
                            "labels": _STR_MAP,
                            "annotations": _STR_MAP,
                        },
                    }},
                },
            }},
        },
    }),
}
