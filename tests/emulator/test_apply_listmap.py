"""Server-side apply of list-maps whose key fields the server defaults.

``Service.spec.ports`` is keyed by ``[port, protocol]`` and containers' ``ports`` by
``[containerPort, protocol]``; ``protocol`` defaults to ``TCP``.  The real server
defaults the key fields of applied items before it merges the list, so an applied
port without ``protocol`` *is* the stored ``{..., protocol: TCP}`` item: applying it
again, or from a second manager with the same values (what ``kubectl diff
--server-side`` does after a converge), is no conflict and leaves one item.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess

import pytest
import yaml

from support import deployment

APPLY = "application/apply-patch+yaml"
SVC = "/api/v1/namespaces/default/services"
DEP = "/apis/apps/v1/namespaces/default/deployments"
KEY = 'k:{"port":5432,"protocol":"TCP"}'


def service(**port) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "pg", "namespace": "default"},
            "spec": {"selector": {"app": "pg"},
                     "ports": [{"name": "postgres", "port": 5432, "targetPort": "postgres", **port}]}}


def web(**port) -> dict:
    return deployment(containers=[{"name": "app", "image": "nginx:1.27",
                                   "ports": [{"name": "http", "containerPort": 8080, **port}]}])


def apply(http, path: str, body: dict, manager: str, **query):
    return http.patch(path, json.dumps(body), APPLY, query={"fieldManager": manager, **query})


def owned(obj: dict, manager: str) -> dict:
    return next(e["fieldsV1"] for e in obj["metadata"]["managedFields"] if e["manager"] == manager)


def test_applied_port_without_protocol_is_keyed_with_the_defaulted_protocol(http):
    reply = apply(http, f"{SVC}/pg", service(), "edp")
    assert reply.status == 201
    assert reply.body["spec"]["ports"] == [{"name": "postgres", "port": 5432, "targetPort": "postgres",
                                            "protocol": "TCP"}]
    assert KEY in owned(reply.body, "edp")["f:spec"]["f:ports"]


def test_reapplying_a_service_is_a_noop_with_one_port(http):
    first = apply(http, f"{SVC}/pg", service(), "edp").body
    reply = apply(http, f"{SVC}/pg", service(), "edp")
    assert reply.status == 200 and len(reply.body["spec"]["ports"]) == 1
    assert reply.body["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


def test_second_manager_applying_the_same_service_is_not_a_conflict(http):
    apply(http, f"{SVC}/pg", service(), "edp")
    for query in ({"dryRun": "All"}, {}):  # what kubectl diff --server-side, then kubectl apply, send
        reply = apply(http, f"{SVC}/pg", service(), "kubectl", **query)
        assert reply.status == 200, reply.body
        assert len(reply.body["spec"]["ports"]) == 1
    obj = http.get(f"{SVC}/pg").body
    assert KEY in owned(obj, "edp")["f:spec"]["f:ports"] and KEY in owned(obj, "kubectl")["f:spec"]["f:ports"]


def test_explicit_tcp_and_omitted_protocol_are_the_same_item(http):
    apply(http, f"{SVC}/pg", service(), "edp")
    reply = apply(http, f"{SVC}/pg", service(protocol="TCP"), "other")
    assert reply.status == 200 and len(reply.body["spec"]["ports"]) == 1
    reply = apply(http, f"{SVC}/pg", service(), "edp")  # and back: still one item, owned by both
    assert reply.status == 200 and len(reply.body["spec"]["ports"]) == 1


def test_a_different_value_from_another_manager_is_still_a_conflict_on_the_defaulted_item(http):
    apply(http, f"{SVC}/pg", service(), "edp")
    reply = apply(http, f"{SVC}/pg", service(targetPort=5433), "other")
    assert reply.status == 409 and reply.body["reason"] == "Conflict"
    fields = [c["field"] for c in reply.body["details"]["causes"]]
    assert fields == ['.spec.ports[port=5432,protocol="TCP"].targetPort']
    forced = apply(http, f"{SVC}/pg", service(targetPort=5433), "other", force="true")
    assert forced.status == 200 and forced.body["spec"]["ports"][0]["targetPort"] == 5433
    assert len(forced.body["spec"]["ports"]) == 1


def test_udp_on_the_same_port_is_another_item(http):
    apply(http, f"{SVC}/pg", service(), "edp")
    svc = service()
    svc["spec"]["ports"] = [svc["spec"]["ports"][0], {"name": "pg-udp", "port": 5432, "protocol": "UDP"}]
    reply = apply(http, f"{SVC}/pg", svc, "edp")
    assert reply.status == 200
    assert sorted(p["protocol"] for p in reply.body["spec"]["ports"]) == ["TCP", "UDP"]


def test_a_port_no_longer_applied_is_removed(http):
    two = service()
    two["spec"]["ports"].append({"name": "metrics", "port": 9187})
    apply(http, f"{SVC}/pg", two, "edp")
    reply = apply(http, f"{SVC}/pg", service(), "edp")
    assert [p["port"] for p in reply.body["spec"]["ports"]] == [5432]


def test_container_ports_without_protocol_from_two_managers(http):
    assert apply(http, f"{DEP}/web", web(), "edp").status == 201
    assert apply(http, f"{DEP}/web", web(), "edp").status == 200
    reply = apply(http, f"{DEP}/web", web(), "kubectl", dryRun="All")
    assert reply.status == 200, reply.body
    ports = reply.body["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert ports == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    conflict = apply(http, f"{DEP}/web", web(name="web"), "kubectl")
    assert conflict.status == 409
    assert [c["field"] for c in conflict.body["details"]["causes"]] == [
        '.spec.template.spec.containers[name="app"].ports[containerPort=8080,protocol="TCP"].name']


def test_managed_fields_of_an_update_and_an_apply_agree_on_the_item(http):
    """A create (Update operation) and a later apply of the same port name the same element."""
    svc = service()
    svc["spec"]["ports"][0]["protocol"] = "TCP"
    assert http.post(SVC, svc, query={"fieldManager": "creator"}).status == 201
    reply = apply(http, f"{SVC}/pg", service(), "edp")
    assert reply.status == 200, reply.body
    assert KEY in owned(reply.body, "creator")["f:spec"]["f:ports"]
    assert KEY in owned(reply.body, "edp")["f:spec"]["f:ports"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not on PATH")
def test_kubectl_diff_server_side_after_an_apply_by_another_manager_is_empty(emu, tool_env, tmp_path):
    emu.write_kubeconfig(tool_env["KUBECONFIG"])
    manifest = tmp_path / "objects.yaml"
    manifest.write_text(yaml.safe_dump_all([service(), copy.deepcopy(web())]))
    kubectl = [shutil.which("kubectl"), "--cache-dir", str(tmp_path / "cache")]
    subprocess.run(kubectl + ["apply", "--server-side", "--field-manager=edp.platform", "-f", str(manifest)],
                   env=tool_env, check=True, capture_output=True, text=True, timeout=60)
    diff = subprocess.run(kubectl + ["diff", "--server-side", "--force-conflicts=false", "-f", str(manifest)],
                          env=tool_env, capture_output=True, text=True, timeout=60)
    assert (diff.returncode, diff.stdout, diff.stderr) == (0, "", "")
