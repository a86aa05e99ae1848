"""Ordering, labelling and comparison rules of the apply path (module_utils/k8s_objects.py)."""

import base64

from ansible_collections.edp.platform.plugins.module_utils import k8s_objects as ko


def obj(kind, name="x", namespace="ns", **body):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return dict({"apiVersion": "v1", "kind": kind, "metadata": meta}, **body)


def test_apply_order_puts_namespace_first_and_monitors_after_workloads():
    objects = [obj("ServiceMonitor"), obj("Deployment"), obj("Secret"), obj("Namespace", namespace=None),
               obj("Widget"), obj("RoleBinding"), obj("Role")]
    assert [o["kind"] for o in ko.ordered(objects)] == [
        "Namespace", "Secret", "Role", "RoleBinding", "Deployment", "ServiceMonitor", "Widget"]


def test_labels_are_added_but_the_objects_own_labels_win():
    mine = obj("ConfigMap")
    mine["metadata"]["labels"] = {"team": "mine"}
    result = ko.with_labels(mine, {"team": "platform", "edp.platform/tenant": "acme"})
    assert result["metadata"]["labels"] == {"team": "mine", "edp.platform/tenant": "acme"}


def test_secret_string_data_is_sent_as_base64_data():
    secret = obj("Secret", stringData={"password": "s3cret"}, data={"user": "YQ=="})
    result = ko.secret_data_to_base64(secret)
    assert "stringData" not in result
    assert result["data"] == {"user": "YQ==", "password": base64.b64encode(b"s3cret").decode()}


def test_hash_ignores_secret_payload_and_its_own_annotation():
    a = obj("Secret", data={"password": "YQ=="})
    b = obj("Secret", data={"password": "Yg=="})
    assert ko.content_hash(a) == ko.content_hash(b)
    assert ko.content_hash(ko.with_hash(a)) == ko.content_hash(a)
    assert ko.content_hash(obj("ConfigMap", data={"a": "1"})) != ko.content_hash(obj("ConfigMap", data={"a": "2"}))


def test_live_object_with_server_defaults_is_in_sync():
    desired = ko.with_hash(obj("Service", spec={"ports": [{"port": 80}]}))
    live = ko.with_hash(obj("Service", spec={"ports": [{"port": 80}]}))
    live["spec"]["ports"][0]["protocol"] = "TCP"
    live["spec"]["clusterIP"] = "10.96.0.10"
    live["metadata"].update(uid="u", resourceVersion="7")
    live["status"] = {"loadBalancer": {}}
    assert ko.in_sync(desired, live)


def test_quantities_compare_by_value():
    assert ko.is_subset({"cpu": 0.5, "memory": "1024Mi"}, {"cpu": "500m", "memory": "1Gi"})
    assert not ko.is_subset({"cpu": "1"}, {"cpu": "500m"})
    assert not ko.is_subset({"name": "1"}, {"name": "one"})


def test_a_hand_edit_is_drift():
    desired = ko.with_hash(obj("ConfigMap", data={"a": "1"}))
    live = ko.with_hash(obj("ConfigMap", data={"a": "1"}))
    live["data"]["a"] = "edited"
    assert not ko.in_sync(desired, live)


def test_a_field_we_stopped_rendering_is_a_change():
    old = obj("ConfigMap", data={"a": "1", "b": "2"})
    new = obj("ConfigMap", data={"a": "1"})
    assert ko.is_subset(new, old)  # the subset test alone would miss it
    assert not ko.in_sync(ko.with_hash(new), ko.with_hash(old))


def test_lists_must_match_in_length():
    assert not ko.is_subset({"l": [1, 2]}, {"l": [1, 2, 3]})


def test_missing_object_is_not_in_sync():
    assert not ko.in_sync(ko.with_hash(obj("ConfigMap")), None)


def test_display_masks_secret_values_and_drops_server_fields():
    live = obj("Secret", data={"password": "czNjcmV0"})
    live["metadata"].update(uid="u", managedFields=[{}], annotations={ko.ANNOTATION_HASH: "h"})
    shown = ko.for_display(live)
    assert shown["data"] == {"password": ko.MASK}
    assert "czNjcmV0" not in str(shown)
    assert "uid" not in shown["metadata"] and "annotations" not in shown["metadata"]


def test_check_object_names_what_is_missing():
    assert ko.check_object({"kind": "ConfigMap"}, "objects[0]") == "objects[0] has no apiVersion"
    assert "has no metadata.name" in ko.check_object({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}, "o")
    assert ko.check_object(obj("ConfigMap", namespace=None), "o") == "ConfigMap x has no metadata.namespace"
    assert ko.check_object(obj("Namespace", namespace=None), "o") is None


def test_render_filenames_sort_in_apply_order():
    names = sorted(ko.render_filename(o) for o in [obj("Deployment"), obj("Namespace", namespace=None), obj("Secret")])
    assert names == ["01-namespace-x.yaml", "05-secret-x.yaml", "17-deployment-x.yaml"]


def secret_to_generate(data=None, keys="password,token"):
    secret = obj("Secret", data=data or {})
    secret["metadata"]["annotations"] = {ko.ANNOTATION_GENERATE: keys}
    return secret


def test_generated_keys_are_made_once_when_the_cluster_has_none():
    desired = secret_to_generate()
    made = ko.fill_generated(desired, None, lambda kind: "fresh")
    assert made == ["password", "token"]
    assert base64.b64decode(desired["data"]["password"]) == b"fresh"


def test_generated_keys_are_read_back_from_the_live_secret():
    live = obj("Secret", data={"password": "b2xk", "token": "dG9r"})
    desired = secret_to_generate()
    assert ko.fill_generated(desired, live, lambda kind: "fresh") == []
    assert desired["data"] == {"password": "b2xk", "token": "dG9r"}


def test_a_value_from_the_inventory_wins_over_generation():
    desired = secret_to_generate(data={"password": "dmF1bHQ="})
    live = obj("Secret", data={"password": "b2xk"})
    ko.fill_generated(desired, live, lambda kind: "fresh")
    assert desired["data"]["password"] == "dmF1bHQ="


def test_a_key_missing_from_the_live_secret_is_added():
    live = obj("Secret", data={"password": "b2xk"})
    desired = secret_to_generate()
    assert ko.fill_generated(desired, live, lambda kind: "fresh") == ["token"]
    assert desired["data"]["password"] == "b2xk"


def labelled(kind, role, namespace="ns", api_version="v1"):
    o = obj(kind, namespace=namespace)
    o["apiVersion"] = api_version
    o["metadata"]["labels"] = {ko.LABEL_ROLE: role}
    return o


def test_record_replaces_the_kinds_of_the_components_applied_and_keeps_the_others():
    previous = {"tenant": ["v1/LimitRange"], "postgres": ["apps/v1/StatefulSet", "v1/Secret"]}
    desired = [labelled("ConfigMap", "postgres"), labelled("Secret", "postgres"), labelled("Secret", "postgres"),
               labelled("Role", "airflow", api_version="rbac.authorization.k8s.io/v1"),
               labelled("ConfigMap", "postgres", namespace="elsewhere")]
    assert ko.next_record(previous, desired, "ns", {"postgres", "airflow"}) == {
        "airflow": ["rbac.authorization.k8s.io/v1/Role"],
        "postgres": ["v1/ConfigMap", "v1/Secret"],
        "tenant": ["v1/LimitRange"]}


def test_a_component_that_renders_nothing_leaves_the_record():
    assert ko.next_record({"monitoring": ["v1/ConfigMap"]}, [], "ns", {"monitoring"}) == {}


def test_record_round_trips_and_a_damaged_one_reads_as_none():
    record = ko.record_object("ns", {}, {"tenant": ["v1/LimitRange"]})
    assert ko.read_record(record) == {"tenant": ["v1/LimitRange"]}
    assert ko.read_record({"data": {ko.RECORD_KEY: "not json"}}) is None
    assert ko.read_record(None) is None
    assert ko.parse_kind_id("rbac.authorization.k8s.io/v1/Role") == ("rbac.authorization.k8s.io/v1", "Role")


def test_generated_keys_can_be_fernet_keys():
    desired = secret_to_generate(keys="fernet-key:fernet,token")
    ko.fill_generated(desired, None)
    fernet = base64.urlsafe_b64decode(base64.b64decode(desired["data"]["fernet-key"]))
    assert len(fernet) == 32  # what cryptography.fernet.Fernet accepts
    assert len(base64.b64decode(desired["data"]["token"])) == 32


def test_a_signing_key_has_the_64_bytes_hmac_sha512_wants():
    desired = secret_to_generate(keys="jwt-secret:signing")
    ko.fill_generated(desired, None)
    assert len(base64.b64decode(desired["data"]["jwt-secret"])) == 64


def test_an_unknown_kind_of_generated_key_is_refused():
    import pytest

    with pytest.raises(ValueError, match="unknown kind of generated secret 'pin'"):
        ko.fill_generated(secret_to_generate(keys="x:pin"), None)


def owned(kind, tenant, environment="dev", name="x", managed=True):
    result = obj(kind, name=name)
    result["metadata"]["labels"] = dict({"edp.platform/tenant": tenant, "edp.platform/environment": environment},
                                        **({"app.kubernetes.io/managed-by": "edp.platform"} if managed else {}))
    return result


def test_owner_is_read_from_the_platform_labels_only():
    assert ko.owner(owned("Secret", "finance")) == ("finance", "dev")
    assert ko.owner(owned("Secret", "finance", managed=False)) == (None, None)
    assert ko.owned_by(owned("Secret", "finance"), "finance", "dev")
    assert not ko.owned_by(owned("Secret", "finance", "prod"), "finance", "dev")
    assert not ko.owned_by(owned("Secret", "marketing"), "finance", "dev")


def test_another_tenants_object_is_a_problem_even_when_adopting():
    desired = [obj("Secret", name="db")]
    live = {ko.key(desired[0]): owned("Secret", "marketing", name="db")}
    problems, adopted = ko.ownership_problems(desired, live, "finance", "dev", adopt=True)
    assert problems == ["Secret ns/db belongs to tenant marketing of environment dev, not to tenant finance of "
                        "environment dev: refusing to change it (two tenants resolve to the same object; check "
                        "edp_namespace and the tenants' names)"]
    assert adopted == {}


def test_an_object_made_by_hand_is_a_problem_unless_adopted():
    desired = [obj("ConfigMap", name="cfg"), obj("ConfigMap", name="new")]
    hand_made = obj("ConfigMap", name="cfg", data={"a": "1"})
    live = {ko.key(desired[0]): hand_made}
    problems, adopted = ko.ownership_problems(desired, live, "finance", "dev")
    assert problems and problems[0].startswith("ConfigMap ns/cfg exists and was not made by edp.platform")
    assert ko.ownership_problems(desired, live, "finance", "dev", adopt=True) == ([], {ko.key(hand_made): hand_made})
    # ours, or not there at all: nothing to say
    live = {ko.key(desired[0]): owned("ConfigMap", "finance", name="cfg")}
    assert ko.ownership_problems(desired, live, "finance", "dev") == ([], {})


def pvc(size, storage_class=None, modes=("ReadWriteOnce",), variable="postgres_storage_size"):
    spec = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    result = obj("PersistentVolumeClaim", name="data", spec=spec)
    result["metadata"]["annotations"] = {ko.ANNOTATION_SIZE_FROM: variable}
    return result


def test_a_volume_may_not_shrink_change_class_or_access_modes():
    live = {ko.key(pvc("20Gi")): pvc("20Gi", "fast", ("ReadWriteOnce",))}
    assert ko.volume_problems([pvc("20Gi")], live, {}) == []  # no class asked: the cluster's default stays
    assert ko.volume_problems([pvc("20480Mi", "fast")], live, {}) == []  # the same size, written otherwise
    assert ko.volume_problems([pvc("10Gi")], live, {}) == [
        "PersistentVolumeClaim ns/data: postgres_storage_size asks for 10Gi, but the volume has 20Gi: a volume "
        "cannot shrink (restore into a new, smaller volume instead)"]
    assert ko.volume_problems([pvc("20Gi", "slow")], live, {}) == [
        "PersistentVolumeClaim ns/data: edp_storage_class is slow, but the volume was made in storage class fast, "
        "which cannot change (migrate the data to a new volume)"]
    assert ko.volume_problems([pvc("20Gi", modes=["ReadWriteMany"])], live, {}) == [
        "PersistentVolumeClaim ns/data: access modes ReadWriteMany asked, but the volume was made ReadWriteOnce, "
        "which cannot change"]


def test_a_volume_grows_unless_its_class_says_it_cannot():
    live = {ko.key(pvc("20Gi")): pvc("20Gi", "fast")}
    assert ko.growing_classes([pvc("30Gi")], live) == {"fast"}
    assert ko.growing_classes([pvc("20Gi")], live) == set()
    assert ko.volume_problems([pvc("30Gi")], live, {"fast": True}) == []
    assert ko.volume_problems([pvc("30Gi")], live, {}) == []  # unknown: the server decides
    assert ko.volume_problems([pvc("30Gi")], live, {"fast": False}) == [
        "PersistentVolumeClaim ns/data: postgres_storage_size asks for 30Gi, but storage class fast does not allow "
        "volume expansion (allowVolumeExpansion), so it stays at 20Gi"]
