"""Server-side apply (application/apply-patch+yaml) and managedFields."""

import json

from support import configmap, deployment

APPLY = "application/apply-patch+yaml"
CM = "/api/v1/namespaces/default/configmaps"
DEP = "/apis/apps/v1/namespaces/default/deployments"


def apply(http, path, body, manager, **query):
    payload = body if isinstance(body, str) else json.dumps(body)
    return http.patch(path, payload, APPLY, query={"fieldManager": manager, **query})


def managers(obj):
    return {(e["manager"], e["operation"]) for e in obj["metadata"].get("managedFields", [])}


def test_apply_creates_missing_object_with_201(http):
    reply = apply(http, f"{CM}/a", configmap("a"), "tool")
    assert reply.status == 201
    assert managers(reply.body) == {("tool", "Apply")}
    fields = reply.body["metadata"]["managedFields"][0]["fieldsV1"]
    assert fields == {"f:data": {"f:k": {}}}


def test_apply_accepts_yaml_bodies(http):
    body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: from-yaml\n"
    assert apply(http, f"{CM}/a", body, "tool").body["data"] == {"k": "from-yaml"}


def test_apply_without_field_manager_is_rejected(http):
    reply = http.patch(f"{CM}/a", json.dumps(configmap("a")), APPLY)
    assert reply.status in (400, 422)
    assert "fieldManager" in reply.body["message"]


def test_apply_updates_and_removes_fields_the_manager_stopped_applying(http):
    apply(http, f"{CM}/a", configmap("a", data={"x": "1", "y": "2"}, labels={"keep": "1", "drop": "1"}), "tool")
    reply = apply(http, f"{CM}/a", configmap("a", data={"x": "changed"}, labels={"keep": "1"}), "tool")
    assert reply.status == 200
    assert reply.body["data"] == {"x": "changed"}
    assert reply.body["metadata"]["labels"] == {"keep": "1"}


def test_apply_keeps_fields_set_by_other_managers(http):
    apply(http, f"{CM}/a", configmap("a", data={"x": "1"}), "tool")
    http.patch(f"{CM}/a", {"data": {"other": "o"}}, "application/merge-patch+json",
               query={"fieldManager": "kubectl-edit"})
    reply = apply(http, f"{CM}/a", configmap("a", data={"x": "2"}), "tool")
    assert reply.body["data"] == {"x": "2", "other": "o"}
    assert managers(reply.body) == {("tool", "Apply"), ("kubectl-edit", "Update")}


def test_apply_conflict_with_another_manager_is_409_unless_forced(http):
    apply(http, f"{DEP}/web", deployment(replicas=2), "team-a")
    reply = apply(http, f"{DEP}/web", deployment(replicas=5), "team-b")
    assert reply.status == 409 and reply.body["reason"] == "Conflict"
    causes = reply.body["details"]["causes"]
    assert {c["field"] for c in causes} == {".spec.replicas"}
    assert 'conflict with "team-a"' in causes[0]["message"]
    assert http.get(f"{DEP}/web").body["spec"]["replicas"] == 2

    forced = apply(http, f"{DEP}/web", deployment(replicas=5), "team-b", force="true")
    assert forced.status == 200 and forced.body["spec"]["replicas"] == 5
    # team-a lost ownership of replicas, so it can now drop other fields without conflict
    owners = {e["manager"]: e["fieldsV1"] for e in forced.body["metadata"]["managedFields"]}
    assert "f:replicas" not in owners["team-a"]["f:spec"]


def test_apply_same_value_as_another_manager_is_shared_ownership_not_conflict(http):
    apply(http, f"{DEP}/web", deployment(replicas=2), "team-a")
    reply = apply(http, f"{DEP}/web", deployment(replicas=2), "team-b")
    assert reply.status == 200
    # team-a stops applying replicas; team-b still owns it, so it stays
    slim = deployment(replicas=2)
    del slim["spec"]["replicas"]
    assert apply(http, f"{DEP}/web", slim, "team-a").body["spec"]["replicas"] == 2


def test_apply_conflicts_with_an_update_manager_holding_a_different_value(http):
    http.post(DEP, deployment(replicas=2), query={"fieldManager": "kubectl-create"})
    reply = apply(http, f"{DEP}/web", deployment(replicas=3), "tool")
    assert reply.status == 409


def test_apply_merges_containers_by_name(http):
    two = deployment(containers=[{"name": "app", "image": "app:1"}, {"name": "side", "image": "s:1"}])
    apply(http, f"{DEP}/web", two, "tool")
    http.patch(f"{DEP}/web", {"spec": {"template": {"metadata": {"annotations": {"restartedAt": "now"}}}}},
               "application/strategic-merge-patch+json", query={"fieldManager": "kubectl-rollout"})
    one = deployment(containers=[{"name": "app", "image": "app:2"}])
    reply = apply(http, f"{DEP}/web", one, "tool")
    spec = reply.body["spec"]["template"]
    assert [c["name"] for c in spec["spec"]["containers"]] == ["app"]  # side was only ours: removed
    assert spec["spec"]["containers"][0]["image"] == "app:2"
    assert spec["metadata"]["annotations"] == {"restartedAt": "now"}  # owned by kubectl-rollout


def test_reapplying_the_same_configuration_is_a_noop(http):
    first = apply(http, f"{DEP}/web", deployment(), "tool").body
    second = apply(http, f"{DEP}/web", deployment(), "tool")
    assert second.status == 200
    assert second.body["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


def test_apply_dry_run_stores_nothing(http, emu):
    reply = apply(http, f"{CM}/a", configmap("a"), "tool", dryRun="All")
    assert reply.status == 201
    assert emu.get_object("v1", "ConfigMap", "a", "default") is None


def test_update_operations_record_their_manager(http):
    created = http.post(CM, configmap("a"), headers={"User-Agent": "my-tool/1.0 (linux)"}).body
    assert managers(created) == {("my-tool", "Update")}
    changed = http.patch(f"{CM}/a", {"data": {"k": "2"}}, "application/merge-patch+json",
                         query={"fieldManager": "other"}).body
    assert managers(changed) == {("other", "Update")}  # took the only field


def test_apply_switching_a_volume_source_leaves_no_empty_map(http):
    """A field map the manager stopped applying goes with its last field (``.`` ownership)."""
    def with_volume(volume):
        body = deployment("sw")
        body["spec"]["template"]["spec"]["volumes"] = [dict({"name": "dags"}, **volume)]
        return body

    assert apply(http, f"{DEP}/sw", with_volume({"persistentVolumeClaim": {"claimName": "dags"}}), "tool").status == 201
    reply = apply(http, f"{DEP}/sw", with_volume({"emptyDir": {}}), "tool")
    assert reply.status == 200, reply.body
    assert reply.body["spec"]["template"]["spec"]["volumes"] == [{"name": "dags", "emptyDir": {}}]
