"""Team defaults (``pipelines/defaults.yaml``) merged under a pipeline spec.

Mappings merge key by key (the spec wins), lists are replaced, except ``tags``
which are united.  ``cluster_defaults`` is merged under every EMR cluster the pipeline creates.
"""

from __future__ import annotations

from typing import Any


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def without_fragments(document: dict[str, Any]) -> dict[str, Any]:
    """The document without its top-level ``x-...`` keys (anchors to reuse; they mean nothing themselves)."""
    return {key: value for key, value in document.items() if not key.startswith("x-")}


def merge_defaults(spec: dict[str, Any], defaults: dict[str, Any] | None) -> dict[str, Any]:
    spec = without_fragments(spec)
    if not defaults:
        return spec
    defaults = without_fragments(defaults)
    shared = {key: value for key, value in defaults.items() if key != "cluster_defaults"}
    merged = _deep_merge(shared, spec)
    if "tags" in defaults and "tags" in spec:
        merged["tags"] = list(dict.fromkeys([*defaults["tags"], *spec["tags"]]))
    cluster_defaults = defaults.get("cluster_defaults")
    if cluster_defaults and "clusters" in merged:
        # an existing cluster is not created by the pipeline: creation defaults do not apply to it
        merged["clusters"] = {
            name: _deep_merge(cluster_defaults, cluster)
            if "existing_cluster_id" not in cluster and cluster.get("kind", "emr") == "emr"
            else cluster
            for name, cluster in merged["clusters"].items()
        }
    return merged
