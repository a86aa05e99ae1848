"""The spark and spark_rbac roles on Kubernetes (against the emulator, or EDP_TEST_KUBECONFIG):
converge and a rerun that writes nothing, with and without spark-operator's CRD; what the
objects say (spark-defaults, pod templates, History Server, SparkApplications valid against
their CRD); the s3a and OpenShift variants; bad inputs refused before any write."""


import jinja2
import pytest
import yaml

from conftest import failure_messages, register_openshift
from lib.emulator_http import request
from lib import policy

NS = "finance-dev"
APPLY = "Render and apply every role's objects in one call"
HINT = "Say what to install for the custom resources the cluster does not serve"
VALIDATE = "Validate every role's inputs for this tenant"
CRD = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/sparkapplications.sparkoperator.k8s.io"


def converge(ansible, env="dev", *args, **kwargs):
    run = ansible.playbook("site.yml", env, "--limit", "finance", *args, **kwargs)
    assert run.rc == 0, failure_messages(run)
    return run


def get(emulator, api_version, kind, name):
    return emulator.get_object(api_version, kind, name, NS)


def spark_defaults(emulator):
    data = get(emulator, "v1", "ConfigMap", "spark-defaults")["data"]
    conf = dict(line.split(" ", 1) for line in data["spark-defaults.conf"].splitlines() if not line.startswith("#"))
    return conf, yaml.safe_load(data["driver-pod-template.yaml"]), yaml.safe_load(data["executor-pod-template.yaml"])


def apply_results(run):
    return run.task_results(APPLY)["finance"]["objects"]


# -- converge and rerun ----------------------------------------------------------------------

def test_converge_applies_spark_and_a_rerun_writes_nothing(ansible, emulator):
    run = converge(ansible)
    for kind, name in (("ConfigMap", "spark-defaults"), ("ConfigMap", "spark-example"),
                       ("PersistentVolumeClaim", "spark-event-logs"), ("PersistentVolumeClaim", "spark-example-data"),
                       ("Service", "spark-history-server"), ("ServiceAccount", "spark-driver"),
                       ("ServiceAccount", "spark-executor")):
        assert get(emulator, "v1", kind, name) is not None, "%s %s was not applied" % (kind, name)
    assert get(emulator, "apps/v1", "Deployment", "spark-history-server") is not None
    assert get(emulator, "networking.k8s.io/v1", "Ingress", "spark-history-server") is not None
    app = get(emulator, "sparkoperator.k8s.io/v1beta2", "SparkApplication", "spark-smoke-test")
    assert app["spec"]["arguments"] == ["--self-test"]
    assert run.task_results(HINT)["finance"].get("skipped"), "a hint although the CRD is installed"
    emulator.reset_requests()
    converge(ansible)
    assert emulator.writes() == [], "the rerun wrote: %s" % emulator.writes()


def test_without_spark_operator_the_tenant_converges_says_what_to_install_and_catches_up_later(ansible, emulator):
    crd = emulator.get_object("apiextensions.k8s.io/v1", "CustomResourceDefinition",
                              "sparkapplications.sparkoperator.k8s.io")
    assert request(emulator, "DELETE", CRD)[0] == 200
    run = converge(ansible)
    skipped = [o for o in apply_results(run) if o["action"] == "skipped"]
    assert [(o["kind"], o["name"]) for o in skipped] == [("SparkApplication", "spark-smoke-test")]
    assert "CRD not installed" in skipped[0]["reason"]
    hint = run.task_results(HINT)["finance"]["msg"]
    assert hint.startswith("SparkApplication skipped (no CRD): Install spark-operator"), hint
    assert NS + " in spark.jobNamespaces" in hint and "spark.rbac.create=false" in hint
    # Everything else is in place.
    assert get(emulator, "apps/v1", "Deployment", "spark-history-server") is not None
    assert get(emulator, "rbac.authorization.k8s.io/v1", "Role", "spark-driver") is not None
    emulator.reset_requests()
    converge(ansible)
    assert emulator.writes() == [], "the rerun without the CRD wrote: %s" % emulator.writes()
    # spark-operator installed: the next run applies what was skipped.
    crd = {k: crd[k] for k in ("apiVersion", "kind", "spec")} | {"metadata": {"name": crd["metadata"]["name"]}}
    assert request(emulator, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)[0] == 201
    run = converge(ansible)
    assert {"kind": "SparkApplication", "name": "spark-smoke-test", "namespace": NS,
            "action": "created"} in apply_results(run)


def test_the_role_alone_says_what_to_install_too(ansible, emulator, tmp_path):
    assert request(emulator, "DELETE", CRD)[0] == 200
    playbook = tmp_path / "spark.yml"
    playbook.write_text("- hosts: finance\n  gather_facts: false\n"
                        "  roles: [edp.platform.tenant, edp.platform.spark_rbac, edp.platform.spark]\n")
    run = ansible.playbook(str(playbook), "dev")
    assert run.rc == 0, failure_messages(run)
    msg = run.task_results("Say what to install when the cluster has no spark-operator")["finance"]["msg"]
    assert msg.startswith("SparkApplication skipped: Install spark-operator"), msg


def test_switching_the_smoke_test_off_prunes_it(ansible, emulator):
    converge(ansible)
    run = converge(ansible, extra_vars={"spark_smoke_test": False})
    assert get(emulator, "sparkoperator.k8s.io/v1beta2", "SparkApplication", "spark-smoke-test") is None
    assert {"kind": "SparkApplication", "name": "spark-smoke-test", "namespace": NS,
            "action": "deleted"} in apply_results(run)


# -- what the objects say ----------------------------------------------------------------------

def test_spark_defaults_hold_the_platform_settings(ansible, emulator):
    converge(ansible)
    conf, _, _ = spark_defaults(emulator)
    expected = {
        "spark.sql.adaptive.enabled": "true",
        "spark.dynamicAllocation.enabled": "true",
        "spark.dynamicAllocation.shuffleTracking.enabled": "true",
        "spark.dynamicAllocation.maxExecutors": "2",
        "spark.kubernetes.namespace": NS,
        "spark.kubernetes.authenticate.driver.serviceAccountName": "spark-driver",
        "spark.kubernetes.authenticate.executor.serviceAccountName": "spark-executor",
        "spark.kubernetes.container.image": "registry.example.com/edp/spark:4.3.0-edp.3",
        "spark.kubernetes.driver.podTemplateFile": "/etc/spark/conf/driver-pod-template.yaml",
        "spark.kubernetes.executor.podTemplateFile": "/etc/spark/conf/executor-pod-template.yaml",
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": "file:///spark-events",
        "spark.history.fs.logDirectory": "file:///spark-events",
        "spark.ui.prometheus.enabled": "true",
        "spark.metrics.conf.*.sink.prometheusServlet.class": "org.apache.spark.metrics.sink.PrometheusServlet",
        # dev's spark_driver: 250m, 512Mi heap, 384Mi beside it.
        "spark.driver.memory": "512m", "spark.driver.memoryOverhead": "384m",
        "spark.kubernetes.driver.request.cores": "250m", "spark.kubernetes.driver.limit.cores": "1",
    }
    assert {k: conf.get(k) for k in expected} == expected


def test_pod_templates_are_restricted_valid_pods_and_size_like_spark(ansible, emulator):
    converge(ansible)
    _, driver, executor = spark_defaults(emulator)
    for role, pod in (("driver", driver), ("executor", executor)):
        assert policy.check_pod_security(dict(pod, metadata=dict(pod["metadata"], name="t", namespace=NS))) == []
        [container] = pod["spec"]["containers"]
        assert container["name"] == "spark-kubernetes-" + role
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        # Spark sets memory request = limit = heap + overhead: so do the templates (the quota counts them).
        assert container["resources"] == {"requests": {"cpu": "250m", "memory": "896Mi"},
                                          "limits": {"cpu": "1", "memory": "896Mi"}}
        named = dict(pod, metadata=dict(pod["metadata"], name="template-" + role))
        status, body = request(emulator, "POST", "/api/v1/namespaces/%s/pods" % NS, named,
                               "?dryRun=All&fieldValidation=Strict")
        assert status == 201, "the %s pod template is no valid Pod: %s" % (role, body)
    mounts = {m["mountPath"] for m in driver["spec"]["containers"][0]["volumeMounts"]}
    assert "/spark-events" in mounts, "drivers do not mount the event log volume"
    assert driver["metadata"]["annotations"]["prometheus.io/path"] == "/metrics/prometheus"


def test_spark_applications_are_valid_against_the_crd(ansible, emulator):
    """The smoke test (applied) and the example pipeline's application file, as it is in the
    ConfigMap and once Airflow has rendered it, accepted with strict validation (dry run)."""
    converge(ansible)
    text = get(emulator, "v1", "ConfigMap", "spark-example")["data"]["edp_spark_example_app.yaml"]
    as_shipped = yaml.safe_load(text)
    rendered = yaml.safe_load(jinja2.Template(text).render(
        ti={"xcom_pull": lambda task_ids: {"input": "/data/run/input", "output": "/data/run/output"}}))
    assert rendered["spec"]["arguments"] == ["--input", "/data/run/input", "--output", "/data/run/output"]
    smoke = get(emulator, "sparkoperator.k8s.io/v1beta2", "SparkApplication", "spark-smoke-test")
    smoke = {k: smoke[k] for k in ("apiVersion", "kind", "spec")} | {"metadata": {"name": "smoke-copy"}}
    for name, app in (("as shipped", as_shipped), ("rendered", rendered), ("smoke test", smoke)):
        status, body = request(emulator, "POST", "/apis/sparkoperator.k8s.io/v1beta2/namespaces/%s/sparkapplications"
                               % NS, app, "?dryRun=All&fieldValidation=Strict")
        assert status == 201, "%s: %s" % (name, body)
    spec = rendered["spec"]
    assert spec["dynamicAllocation"] == {"enabled": True, "shuffleTrackingEnabled": True, "initialExecutors": 0,
                                         "minExecutors": 0, "maxExecutors": 2}
    for role in ("driver", "executor"):
        pod = spec[role]["template"]
        assert policy.check_pod_security({"kind": "Pod", "metadata": {"name": role}, "spec": pod["spec"]}) == []
        claims = [v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"]
                  if "persistentVolumeClaim" in v]
        assert "spark-example-data" in claims, "the example's %s does not mount its data" % role


def test_the_history_server_reads_the_event_logs_and_is_exposed_with_tls(ansible, emulator):
    converge(ansible)
    deployment = get(emulator, "apps/v1", "Deployment", "spark-history-server")
    assert policy.check_pod_security(deployment) == []
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["args"] == ["/opt/spark/bin/spark-class", "org.apache.spark.deploy.history.HistoryServer"]
    assert {e["name"]: e.get("value") for e in container["env"]}["SPARK_DAEMON_MEMORY"] == "576m"  # 3/4 of 768Mi
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/v1/version"
    assert {"name": "spark-event-logs", "persistentVolumeClaim": {"claimName": "spark-event-logs"}} in pod["volumes"]
    assert pod["automountServiceAccountToken"] is False
    ingress = get(emulator, "networking.k8s.io/v1", "Ingress", "spark-history-server")
    assert ingress["spec"]["tls"] == [{"hosts": ["finance-spark-history.dev.example.com"],
                                       "secretName": "spark-history-tls"}]
    claim = get(emulator, "v1", "PersistentVolumeClaim", "spark-event-logs")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"


def test_airflow_gets_the_example_pipelines_environment(ansible, emulator):
    converge(ansible)
    data = get(emulator, "v1", "ConfigMap", "airflow-config")["data"]
    names = ("EDP_TARGET", "EDP_NAMESPACE", "EDP_SPARK_EXAMPLE_DATA", "EDP_SPARK_EXAMPLE_CLAIM")
    assert {k: data.get(k) for k in names} == {"EDP_TARGET": "kubernetes", "EDP_NAMESPACE": NS, "EDP_SPARK_EXAMPLE_DATA": "/data/edp-spark-example",
            "EDP_SPARK_EXAMPLE_CLAIM": "spark-example-data"}
    assert "PATH" not in data and "AIRFLOW_CONN_EDP_SPARK_LOCAL" not in data


def test_s3a_event_logs_need_no_volume_and_take_credentials_from_a_secret(ansible, emulator):
    converge(ansible, extra_vars={"spark_event_log": {"s3a": {
        "bucket": "edp-spark", "endpoint": "https://s3.example.com", "path_style_access": True,
        "credentials_secret": "spark-s3"}}})
    assert get(emulator, "v1", "PersistentVolumeClaim", "spark-event-logs") is None
    conf, driver, _ = spark_defaults(emulator)
    assert conf["spark.eventLog.dir"] == "s3a://edp-spark/%s/spark-events" % NS
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "https://s3.example.com"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in driver["spec"]["containers"][0]["env"]}
    assert env == {"AWS_ACCESS_KEY_ID": {"name": "spark-s3", "key": "access-key"},
                   "AWS_SECRET_ACCESS_KEY": {"name": "spark-s3", "key": "secret-key"}}
    history = get(emulator, "apps/v1", "Deployment", "spark-history-server")["spec"]["template"]["spec"]
    assert "spark-event-logs" not in [v["name"] for v in history["volumes"]]
    assert "AWS_SECRET_ACCESS_KEY" in [e["name"] for e in history["containers"][0]["env"]]


def test_openshift_gets_an_edge_route_and_no_fixed_uid(ansible, emulator):
    register_openshift(emulator)
    converge(ansible)
    route = get(emulator, "route.openshift.io/v1", "Route", "spark-history-server")
    assert route["spec"]["tls"]["termination"] == "edge"
    assert get(emulator, "networking.k8s.io/v1", "Ingress", "spark-history-server") is None
    _, driver, executor = spark_defaults(emulator)
    history = get(emulator, "apps/v1", "Deployment", "spark-history-server")
    smoke = get(emulator, "sparkoperator.k8s.io/v1beta2", "SparkApplication", "spark-smoke-test")["spec"]
    for spec in (driver["spec"], executor["spec"], history["spec"]["template"]["spec"],
                 smoke["driver"]["template"]["spec"], smoke["executor"]["template"]["spec"]):
        assert not {"runAsUser", "runAsGroup", "fsGroup"} & set(spec["securityContext"]), spec["securityContext"]
        assert spec["securityContext"]["runAsNonRoot"] is True


# -- bad inputs ----------------------------------------------------------------------------------

DEV_DRIVER = {"cores": "250m", "memory": "512Mi", "memory_overhead": "384Mi"}
DEV_EXECUTOR = {"cores": "250m", "memory": "512Mi", "memory_overhead": "384Mi", "min_executors": 0, "max_executors": 2}
BAD = [
    ("driver-memory-not-a-quantity", "dev", {"spark_driver": dict(DEV_DRIVER, memory="lots")},
     "spark_driver.memory: 'lots' is not a Kubernetes quantity (such as 500m, 2, 512Mi, 10Gi)"),
    ("executor-cores-not-a-quantity", "dev", {"spark_executor": dict(DEV_EXECUTOR, cores="two")},
     "spark_executor.cores: 'two' is not a Kubernetes quantity (such as 500m, 2, 512Mi, 10Gi)"),
    ("driver-cores-missing", "dev", {"spark_driver": {"memory": "1Gi", "memory_overhead": "384Mi"}},
     "spark_driver.cores: is not set"),
    ("executor-overhead-below-zero", "dev", {"spark_executor": dict(DEV_EXECUTOR, memory_overhead="-1Gi")},
     "spark_executor.memory_overhead: '-1Gi' is below zero"),
    # An untagged Spark image in staging: test_bad_inputs.py's untagged-image-in-staging (the same case).
    ("latest-spark-image-in-prod", "prod", {"edp_images": {"spark": "registry.example.com/edp/spark:latest"}},
     "edp_images['spark']: 'registry.example.com/edp/spark:latest' uses the tag 'latest': pin a version "
     "(this environment refuses 'latest')"),
    ("event-log-nowhere", "dev", {"spark_event_log": {}},
     "spark: one of the following is required: volume, s3a found in spark_event_log"),
    ("event-log-in-two-places", "dev", {"spark_event_log": {"volume": {"size": "5Gi"}, "s3a": {"bucket": "logs"}}},
     "spark: parameters are mutually exclusive: volume|s3a found in spark_event_log"),
    ("event-log-volume-without-size", "dev", {"spark_event_log": {"volume": {}}},
     "spark: missing required arguments: size found in spark_event_log -> volume"),
    ("event-log-bucket-missing", "dev", {"spark_event_log": {"s3a": {"endpoint": "https://s3.example.com"}}},
     "spark: missing required arguments: bucket found in spark_event_log -> s3a"),
    ("event-log-volume-of-no-size", "dev", {"spark_event_log": {"volume": {"size": "0"}}},
     "spark_event_log.volume.size: '0' is not a size above zero"),
    ("conf-sets-the-namespace", "dev", {"spark_conf": {"spark.kubernetes.namespace": "other"}},
     "spark_conf['spark.kubernetes.namespace']: set edp_namespace instead (the platform derives this setting from it)"),
    ("conf-sets-the-driver-account", "dev",
     {"spark_conf": {"spark.kubernetes.authenticate.driver.serviceAccountName": "default"}},
     "spark_conf['spark.kubernetes.authenticate.driver.serviceAccountName']: set spark_rbac_driver_service_account "
     "instead (the platform derives this setting from it)"),
    ("conf-brings-a-token", "dev", {"spark_conf": {"spark.kubernetes.authenticate.driver.oauthToken": "x"}},
     "spark_conf['spark.kubernetes.authenticate.driver.oauthToken']: set spark_rbac_driver_service_account "
     "(drivers use its token, no other credential) instead (the platform derives this setting from it)"),
    ("conf-replaces-the-pod-template", "dev",
     {"spark_conf": {"spark.kubernetes.executor.podTemplateFile": "/tmp/privileged.yaml"}},
     "spark_conf['spark.kubernetes.executor.podTemplateFile']: set spark_executor (the platform's executor pod "
     "template holds the restricted securityContext) instead (the platform derives this setting from it)"),
    ("conf-adds-feature-steps", "dev",
     {"spark_conf": {"spark.kubernetes.driver.pod.featureSteps": "com.example.RootStep"}},
     "spark_conf['spark.kubernetes.driver.pod.featureSteps']: set spark_driver (feature steps could change the "
     "pod's securityContext) instead (the platform derives this setting from it)"),
]


def validate_errors(run):
    for play in run.results:
        for task in play["tasks"]:
            if task["task"]["name"] == VALIDATE and "finance" in task["hosts"]:
                return task["hosts"]["finance"].get("errors") or []
    return []


@pytest.mark.parametrize("inventory,extra_vars,expected", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_spark_input_fails_before_any_write_naming_the_variable(ansible, emulator, inventory, extra_vars,
                                                                      expected):
    run = ansible.playbook("site.yml", inventory, "--limit", "finance", extra_vars=extra_vars)
    assert run.rc != 0, "site.yml accepted %s" % extra_vars
    assert expected in validate_errors(run), failure_messages(run)
    assert emulator.writes() == [], "wrote before failing: %s" % emulator.writes()


def test_settings_of_its_own_are_accepted(ansible, emulator):
    run = converge(ansible, extra_vars={"spark_conf": {"spark.sql.shuffle.partitions": 64,
                                                       "spark.speculation": True}})
    conf, _, _ = spark_defaults(emulator)
    assert (conf["spark.sql.shuffle.partitions"], conf["spark.speculation"]) == ("64", "true")
    smoke = get(emulator, "sparkoperator.k8s.io/v1beta2", "SparkApplication", "spark-smoke-test")
    assert smoke["spec"]["sparkConf"]["spark.speculation"] == "true"
    assert run.rc == 0
