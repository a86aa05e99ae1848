"""Discovery documents: ``/version``, ``/api``, ``/apis`` and per-version lists.

Mirrors the shapes the real server serves:

* ``/api`` -> ``APIVersions``; ``/apis`` -> ``APIGroupList`` (with
  ``preferredVersion``); ``/api/v1`` and ``/apis/{group}/{version}`` ->
  ``APIResourceList`` with ``name``, ``singularName``, ``namespaced``,
  ``kind``, ``verbs``, ``shortNames``, ``categories`` and one entry per
  subresource (``deployments/status``, ``statefulsets/scale``...).
* The aggregated form (``apidiscovery.k8s.io/v2`` ``APIGroupDiscoveryList``)
  when the client's ``Accept`` header asks for it, as kubectl >= 1.30 and the
  python client's discovery do; clients that ask for plain JSON get the
  legacy documents.

Everything is generated from the :class:`~kube_emulator.resources.Registry`,
so a CRD appears here the moment it is created and disappears when deleted.
"""

from __future__ import annotations

from typing import Any

from .resources import SUBRESOURCES, Registry, ResourceType

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"

SERVER_ADDRESS = [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]


def version_info(schema_version: str) -> dict[str, Any]:
    major, minor = schema_version.split(".")[:2]
    return {
        "major": major, "minor": minor, "gitVersion": f"v{major}.{minor}.0",
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2024-01-01T00:00:00Z", "goVersion": "go1.22.0", "compiler": "gc",
        "platform": "linux/amd64", "emulator": "kube_emulator",
    }


def wants_aggregated(accept: str) -> str | None:
    """Return the aggregated media type to answer with, if the client prefers one.

    The ``Accept`` header lists types in preference order; we honour the
    first aggregated one that appears before plain ``application/json``.
    """
    for part in (accept or "").split(","):
        media = part.strip().replace(" ", "")
        media_no_q = ";".join(p for p in media.split(";") if not p.startswith("q="))
        if media_no_q in (AGGREGATED_V2, AGGREGATED_V2BETA1):
            return media_no_q
        if media_no_q in ("application/json", "*/*"):
            return None
    return None


def api_versions() -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": SERVER_ADDRESS}


def api_group_list(registry: Registry) -> dict[str, Any]:
    groups = []
    for group, versions in registry.groups():
        if not group:
            continue
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        groups.append({"name": group, "versions": gvs, "preferredVersion": gvs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    for name, versions in registry.groups():
        if name == group and group:
            gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
            return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": gvs,
                    "preferredVersion": gvs[0]}
    return None


def _resource_entry(rtype: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": rtype.plural, "singularName": rtype.singular_name, "namespaced": rtype.namespaced,
        "kind": rtype.kind, "verbs": list(rtype.verbs),
    }
    if rtype.short_names:
        entry["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        entry["categories"] = list(rtype.categories)
    return entry


def _subresource_entries(rtype: ResourceType) -> list[dict[str, Any]]:
    out = []
    for sub in rtype.subresources:
        group, version, kind, verbs = SUBRESOURCES[sub]
        entry = {"name": f"{rtype.plural}/{sub}", "singularName": "", "namespaced": rtype.namespaced,
                 "kind": kind or rtype.kind, "verbs": list(verbs)}
        if group is not None:
            entry["group"], entry["version"] = group, version
        out.append(entry)
    return out


def api_resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    rtypes = registry.resources(group, version)
    if not rtypes:
        return None
    resources = []
    for rtype in rtypes:
        resources.append(_resource_entry(rtype))
        resources.extend(_subresource_entries(rtype))
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version, "resources": resources}


def aggregated(registry: Registry, legacy_core: bool, media_type: str) -> dict[str, Any]:
    """``APIGroupDiscoveryList`` for ``/api`` (``legacy_core``) or ``/apis``."""
    api_version = media_type.split("v=")[1].split(";")[0]
    items = []
    for group, versions in registry.groups():
        if bool(group) == legacy_core:
            continue
        version_entries = []
        for version in versions:
            resources = []
            for rtype in registry.resources(group, version):
                res = {
                    "resource": rtype.plural, "singularResource": rtype.singular_name,
                    "responseKind": {"group": group, "version": version, "kind": rtype.kind},
                    "scope": "Namespaced" if rtype.namespaced else "Cluster",
                    "verbs": list(rtype.verbs),
                }
                if rtype.short_names:
                    res["shortNames"] = list(rtype.short_names)
                if rtype.categories:
                    res["categories"] = list(rtype.categories)
                subs = []
                for sub in rtype.subresources:
                    sgroup, sversion, skind, verbs = SUBRESOURCES[sub]
                    subs.append({"subresource": sub, "verbs": list(verbs), "responseKind": {
                        "group": group if sgroup is None else sgroup,
                        "version": version if sversion is None else sversion,
                        "kind": skind or rtype.kind}})
                if subs:
                    res["subresources"] = subs
                resources.append(res)
            version_entries.append({"version": version, "resources": resources, "freshness": "Current"})
        items.append({"metadata": {"name": group, "creationTimestamp": None}, "versions": version_entries})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{api_version}",
            "metadata": {}, "items": items}
