"""The minimal OpenAPI documents kubectl needs.

What kubectl 1.32 does with OpenAPI (checked against the emulator):

* ``kubectl apply``/``create`` with the default ``--validate=strict`` first
  builds a client-side validator from ``/openapi/v2``.  It fetches that
  document **as protobuf** only and gives up ("failed to download openapi")
  on a 404.  It then asks ``/openapi/v3`` whether the server supports the
  ``fieldValidation`` query parameter for the kind's PATCH operation; if so,
  it skips client-side validation and sends ``fieldValidation=Strict`` so the
  *server* validates (what it does against every modern server).
* For the strategic-merge-patch metadata of ``kubectl apply`` it looks for
  the kind's schema in the v3 document, then in v2, then falls back to its
  compiled-in Go types (built-in kinds) or JSON merge patch (custom
  resources).

So we serve:

* ``/openapi/v2``: a protobuf ``openapi_v2.Document`` with only
  ``swagger: "2.0"`` set.  With no definitions kubectl's client-side
  validator has nothing to check and defers to the server.
* ``/openapi/v3``: the discovery document listing every group-version, and
  per group-version a document whose ``paths`` hold, for each resource, the
  PATCH operation tagged with ``x-kubernetes-group-version-kind`` and a
  ``fieldValidation`` query parameter.  No component schemas, so patch
  metadata comes from kubectl's compiled-in types, which match the schemas
  the emulator validates with.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .resources import Registry

PROTOBUF_V2 = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


def _proto_string(field_number: int, value: str) -> bytes:
    data = value.encode()
    assert len(data) < 128
    return bytes([(field_number << 3) | 2, len(data)]) + data


def v2_document() -> bytes:
    """Protobuf ``openapi_v2.Document{swagger: "2.0"}``."""
    return _proto_string(1, "2.0")


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def v3_discovery(registry: Registry) -> dict[str, Any]:
    paths = {}
    for group, versions in registry.groups():
        for version in versions:
            doc = v3_group_version(registry, group, version)
            digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16].upper()
            path = _gv_path(group, version)
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}


_FIELD_VALIDATION = {
    "name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True},
    "description": "fieldValidation instructs the server on how to handle objects in the request "
                   "containing unknown or duplicate fields. Valid values are: Ignore, Warn (default), Strict.",
}


def v3_group_version(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    rtypes = registry.resources(group, version)
    if not rtypes:
        return None
    paths: dict[str, Any] = {}
    prefix = "/" + _gv_path(group, version)
    for rtype in rtypes:
        scope = f"{prefix}/namespaces/{{namespace}}" if rtype.namespaced else prefix
        paths[f"{scope}/{rtype.plural}/{{name}}"] = {"patch": {
            "operationId": f"patch{rtype.kind}",
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": rtype.kind},
            "parameters": [_FIELD_VALIDATION,
                           {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                           {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                           {"name": "force", "in": "query", "schema": {"type": "boolean"}}],
            "responses": {"200": {"description": "OK"}},
        }}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "unversioned"},
            "paths": paths, "components": {"schemas": {}}}
