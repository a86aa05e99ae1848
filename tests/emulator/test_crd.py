"""CustomResourceDefinitions: registration, validation with the CRD schema, removal."""

import time

import yaml

from kube_emulator import Emulator, default_crd_dir
from support import Http

SPARK = "/apis/sparkoperator.k8s.io/v1beta2/namespaces/default/sparkapplications"


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(crd_dir, filename):
    return yaml.load((crd_dir / filename).read_text(), Loader=_Loader)


def spark_app(name="pi", **spec_overrides):
    spec = {"type": "Scala", "mode": "cluster", "image": "spark:3.5.0", "sparkVersion": "3.5.0",
            "mainClass": "org.apache.spark.examples.SparkPi",
            "mainApplicationFile": "local:///opt/spark/examples/jars/spark-examples.jar",
            "driver": {"cores": 1, "memory": "512m", "serviceAccount": "spark"},
            "executor": {"cores": 1, "instances": 2, "memory": "512m"}}
    spec.update(spec_overrides)
    return {"apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "SparkApplication",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def test_custom_resource_before_its_crd_is_404_then_works_and_is_validated(http, crd_dir):
    assert http.post(SPARK, spark_app()).status == 404  # path unknown, as on a real server

    crd = load(crd_dir, "sparkoperator.k8s.io_sparkapplications.yaml")
    assert http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd).status == 201

    created = http.post(SPARK, spark_app())
    assert created.status == 201, created.body
    bad = http.post(SPARK, spark_app(name="bad", executor={"instances": "two"}))
    assert bad.status == 422
    assert bad.body["details"]["causes"][0]["field"] == "spec.executor.instances"
    enum = http.post(SPARK, spark_app(name="bad2", mode="sideways"))
    assert enum.status == 422 and enum.body["details"]["causes"][0]["field"] == "spec.mode"


def test_crd_status_is_established(http, crd_dir):
    crd = load(crd_dir, "monitoring.coreos.com_servicemonitors.yaml")
    body = http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd).body
    conditions = {c["type"]: c["status"] for c in body["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert body["status"]["storedVersions"] == ["v1"]


def test_discovery_lists_crd_kinds_only_once_registered(http, crd_dir):
    groups = {g["name"] for g in http.get("/apis").body["groups"]}
    assert "monitoring.coreos.com" not in groups
    assert http.get("/apis/monitoring.coreos.com/v1").status == 404

    crd = load(crd_dir, "monitoring.coreos.com_servicemonitors.yaml")
    http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    groups = {g["name"]: g for g in http.get("/apis").body["groups"]}
    assert groups["monitoring.coreos.com"]["preferredVersion"]["version"] == "v1"
    resources = {r["name"]: r for r in http.get("/apis/monitoring.coreos.com/v1").body["resources"]}
    assert resources["servicemonitors"]["kind"] == "ServiceMonitor"
    assert resources["servicemonitors"]["shortNames"] == ["smon"]
    assert "servicemonitors/status" in resources


def test_only_served_crd_versions_are_registered(http, crd_dir):
    crd = load(crd_dir, "snapshot.storage.k8s.io_volumesnapshots.yaml")  # v1beta1 has served: false
    http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    group = next(g for g in http.get("/apis").body["groups"] if g["name"] == "snapshot.storage.k8s.io")
    assert [v["version"] for v in group["versions"]] == ["v1"]
    assert http.get("/apis/snapshot.storage.k8s.io/v1beta1/volumesnapshots").status == 404


def test_deleting_a_crd_unregisters_it_and_deletes_its_objects(emu_crds):
    http = Http(emu_crds.url)
    assert http.post(SPARK, spark_app()).status == 201
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    assert http.delete(f"{crds}/sparkapplications.sparkoperator.k8s.io").status == 200
    assert http.get(SPARK).status == 404
    assert "sparkoperator.k8s.io" in {g["name"] for g in http.get("/apis").body["groups"]}  # scheduled apps
    http.post(crds, load(default_crd_dir(), "sparkoperator.k8s.io_sparkapplications.yaml"))
    assert http.get(SPARK).body["items"] == []


def test_unknown_fields_are_pruned_from_custom_resources(emu_crds):
    http = Http(emu_crds.url)
    app = spark_app()
    app["spec"]["notInSchema"] = True
    reply = http.post(SPARK, app)
    assert reply.status == 201
    assert "notInSchema" not in reply.body["spec"]
    assert reply.warnings == ['299 - "unknown field \\"spec.notInSchema\\""']


def test_preserve_unknown_fields_keeps_arbitrary_content(emu_crds):
    http = Http(emu_crds.url)
    app = spark_app()
    app["spec"]["sparkConf"] = {"spark.ui.enabled": "false"}  # additionalProperties map
    app["spec"]["driver"]["podSecurityContext"] = {"runAsUser": 1000}
    reply = http.post(SPARK, app)
    assert reply.body["spec"]["sparkConf"] == {"spark.ui.enabled": "false"}
    assert reply.body["spec"]["driver"]["podSecurityContext"] == {"runAsUser": 1000}


def test_custom_resource_status_is_ignored_on_main_resource_writes(emu_crds):
    http = Http(emu_crds.url)
    app = spark_app()
    app["status"] = {"applicationState": {"state": "COMPLETED"}}
    created = http.post(SPARK, app).body
    assert "status" not in created
    status = {**created, "status": {"applicationState": {"state": "RUNNING"}, "driverInfo": {}}}
    reply = http.put(f"{SPARK}/pi/status", status)
    assert reply.status == 200 and reply.body["status"]["applicationState"]["state"] == "RUNNING"


def test_spark_application_validation_is_fast(emu_crds):
    http = Http(emu_crds.url)
    http.post(SPARK, spark_app("warm"))
    start = time.perf_counter()
    for i in range(20):
        assert http.post(SPARK, spark_app(f"app{i}")).status == 201
    per_request = (time.perf_counter() - start) / 20
    assert per_request < 0.05, f"{per_request * 1000:.1f} ms per SparkApplication create"


def test_crd_dirs_preload_at_start(crd_dir):
    with Emulator(crd_dirs=[crd_dir]) as emu:
        names = {r["name"] for r in Http(emu.url).get("/apis/route.openshift.io/v1").body["resources"]}
        assert "routes" in names
