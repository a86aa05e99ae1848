"""Structural-schema rules of CRDs, with a small CRD defined here."""

import pytest

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = "/apis/example.edp.platform/v1/namespaces/default/widgets"

SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "mode": {"type": "string", "enum": ["fast", "safe"], "default": "safe"},
                "port": {"x-kubernetes-int-or-string": True,
                         "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "note": {"type": "string", "nullable": True},
                "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                             "properties": {"spec": {"type": "object",
                                                     "x-kubernetes-preserve-unknown-fields": True}}},
                "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                "closed": {"type": "object"},
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
}

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.edp.platform"},
    "spec": {"group": "example.edp.platform", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": SCHEMA},
                           "subresources": {"status": {}}}]},
}


def widget(**spec):
    return {"apiVersion": "example.edp.platform/v1", "kind": "Widget",
            "metadata": {"name": "w", "namespace": "default"}, "spec": spec}


@pytest.fixture
def widgets(http):
    assert http.post(CRDS, CRD).status == 201
    return http


def test_crd_name_must_be_plural_dot_group(http):
    wrong = {**CRD, "metadata": {"name": "gadgets.example.edp.platform"}}
    reply = http.post(CRDS, wrong)
    assert reply.status == 422 and reply.body["details"]["causes"][0]["field"] == "metadata.name"


def test_defaults_are_applied(widgets):
    assert widgets.post(WIDGETS, widget(size=1)).body["spec"]["mode"] == "safe"


def test_int_or_string_nullable_and_bounds(widgets):
    assert widgets.post(WIDGETS, widget(size=1, port="http", note=None)).status == 201
    widgets.delete(f"{WIDGETS}/w")
    assert widgets.post(WIDGETS, widget(size=1, port=8080)).status == 201
    widgets.delete(f"{WIDGETS}/w")
    for bad in (widget(size=0), widget(size=1, port=1.5), widget(size=1, mode="slow"), widget()):
        assert widgets.post(WIDGETS, bad).status == 422


def test_preserve_unknown_fields_embedded_resources_and_maps(widgets):
    body = widget(size=1, config={"anything": {"goes": [1, 2]}}, tags={"a": "b"},
                  template={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                            "spec": {"containers": []}})
    reply = widgets.post(WIDGETS, body)
    assert reply.status == 201 and reply.warnings == []
    assert reply.body["spec"]["config"] == {"anything": {"goes": [1, 2]}}
    assert reply.body["spec"]["template"]["kind"] == "Pod"


def test_objects_without_properties_are_pruned_and_strict_rejects(widgets):
    reply = widgets.post(WIDGETS, widget(size=1, closed={"x": 1}, extra=True))
    assert reply.status == 201
    assert reply.body["spec"] == {"size": 1, "mode": "safe", "closed": {}}
    assert sorted(reply.warnings) == ['299 - "unknown field \\"spec.closed.x\\""',
                                      '299 - "unknown field \\"spec.extra\\""']
    widgets.delete(f"{WIDGETS}/w")
    strict = widgets.post(WIDGETS, widget(size=1, extra=True), query={"fieldValidation": "Strict"})
    assert strict.status == 422 and strict.body["details"]["causes"][0]["field"] == "spec.extra"


def test_custom_resource_metadata_is_validated(widgets):
    body = widget(size=1)
    body["metadata"]["labels"] = {"bad value": "x"}
    assert widgets.post(WIDGETS, body).status == 422


def test_cluster_scoped_custom_resources(http):
    crd = {**CRD, "metadata": {"name": "gadgets.example.edp.platform"},
           "spec": {**CRD["spec"], "scope": "Cluster",
                    "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"}}}
    assert http.post(CRDS, crd).status == 201
    gadget = {"apiVersion": "example.edp.platform/v1", "kind": "Gadget", "metadata": {"name": "g"},
              "spec": {"size": 2}}
    assert http.post("/apis/example.edp.platform/v1/gadgets", gadget).status == 201
    assert http.get("/apis/example.edp.platform/v1/namespaces/default/gadgets").status == 404


def test_a_null_schema_keyword_counts_as_absent():
    """The OpenShift Route CRD carries ``anyOf: null``; a real API server accepts Routes."""
    from kube_emulator.schema import _openapi_to_jsonschema

    schema = _openapi_to_jsonschema({"type": "object", "properties": {
        "targetPort": {"anyOf": None, "x-kubernetes-int-or-string": True}}})
    assert schema["properties"]["targetPort"] == {"x-kubernetes-int-or-string": True}
