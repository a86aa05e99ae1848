"""Discovery documents, in the legacy and the aggregated form."""

import pytest

from kube_emulator import Emulator
from kube_emulator.resources import BUILTIN_RESOURCES
from support import Http

AGGREGATED = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")


def test_version_matches_kube_version():
    with Emulator(kube_version="1.29") as emu:
        body = Http(emu.url).get("/version").body
        assert (body["major"], body["minor"], body["gitVersion"]) == ("1", "29", "v1.29.0")


def test_default_kube_version_is_1_31(http):
    assert http.get("/version").body["gitVersion"] == "v1.31.0"


def test_unsupported_kube_version_is_refused():
    with pytest.raises(ValueError):
        Emulator(kube_version="1.12")


def test_core_api_versions_and_resource_list(http):
    assert http.get("/api").body["versions"] == ["v1"]
    resources = {r["name"]: r for r in http.get("/api/v1").body["resources"]}
    assert resources["configmaps"] == {"name": "configmaps", "singularName": "configmap", "namespaced": True,
                                       "kind": "ConfigMap", "verbs": ["create", "delete", "deletecollection",
                                                                      "get", "list", "patch", "update", "watch"],
                                       "shortNames": ["cm"]}
    assert resources["namespaces"]["namespaced"] is False
    assert resources["pods/log"]["kind"] == "Pod"
    assert "pods/exec" in resources


def test_group_list_has_preferred_versions(http):
    groups = {g["name"]: g for g in http.get("/apis").body["groups"]}
    assert groups["apps"]["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
    assert groups["autoscaling"]["versions"] == [{"groupVersion": "autoscaling/v2", "version": "v2"}]
    assert http.get("/apis/apps").body["kind"] == "APIGroup"


def test_every_builtin_resource_is_discoverable_and_listable(http):
    for rtype in BUILTIN_RESOURCES:
        prefix = f"/apis/{rtype.group}/{rtype.version}" if rtype.group else "/api/v1"
        names = {r["name"] for r in http.get(prefix).body["resources"]}
        assert rtype.plural in names
        assert http.get(f"{prefix}/{rtype.plural}").body["kind"] == f"{rtype.kind}List"


def test_subresources_are_listed(http):
    apps = {r["name"]: r for r in http.get("/apis/apps/v1").body["resources"]}
    assert apps["statefulsets/scale"]["kind"] == "Scale"
    assert apps["statefulsets/scale"]["group"] == "autoscaling"
    assert apps["deployments/status"]["verbs"] == ["get", "patch", "update"]
    assert apps["deployments"]["shortNames"] == ["deploy"]
    assert "all" in apps["deployments"]["categories"]


def test_aggregated_discovery_when_asked(http):
    reply = http.get("/apis", headers={"Accept": AGGREGATED})
    assert reply.headers["Content-Type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    assert reply.body["kind"] == "APIGroupDiscoveryList"
    apps = next(i for i in reply.body["items"] if i["metadata"]["name"] == "apps")
    deploy = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    assert deploy["responseKind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert {s["subresource"] for s in deploy["subresources"]} == {"status", "scale"}
    core = http.get("/api", headers={"Accept": AGGREGATED}).body
    assert [i["metadata"]["name"] for i in core["items"]] == [""]


def test_plain_json_accept_gets_legacy_documents(http):
    assert http.get("/apis", headers={"Accept": "application/json"}).body["kind"] == "APIGroupList"


def test_openapi_v3_advertises_field_validation_for_patch(http):
    paths = http.get("/openapi/v3").body["paths"]
    doc = http.get(paths["apis/apps/v1"]["serverRelativeURL"]).body
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"]["kind"] == "Deployment"
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
