"""The airflow role on Kubernetes (against the emulator, or EDP_TEST_KUBECONFIG)."""

import base64

from conftest import failure_messages, register_openshift

COMPONENTS = ["api-server", "scheduler", "dag-processor", "triggerer"]


def converge(ansible, env="dev", *args, **kwargs):
    run = ansible.playbook("site.yml", env, *args, **kwargs)
    assert run.rc == 0, failure_messages(run)
    return run


def deployment(emulator, component, ns="finance-dev"):
    return emulator.get_object("apps/v1", "Deployment", "airflow-" + component, ns)


def test_each_component_runs_as_its_own_account_and_only_the_scheduler_manages_pods(ansible, emulator):
    """Applied as rendered: the scheduler's Role is exactly the KubernetesExecutor's calls; the
    api-server, dag-processor, triggerer and Jobs run as accounts bound to nothing, with no token
    mounted; the old shared Role `airflow` is gone (the full evaluation of every account is
    tests/integration/test_airflow_rbac.py)."""
    converge(ansible)
    rbac = "rbac.authorization.k8s.io/v1"
    rules = emulator.get_object(rbac, "Role", "airflow-scheduler", "finance-dev")["rules"]
    granted = {(g, r, v) for rule in rules for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}
    assert granted == {("", "pods", v) for v in ("create", "delete", "get", "list", "patch", "watch")}
    binding = emulator.get_object(rbac, "RoleBinding", "airflow-scheduler", "finance-dev")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "airflow-scheduler", "namespace": "finance-dev"}]
    assert emulator.get_object(rbac, "Role", "airflow", "finance-dev") is None
    accounts = {}
    for component in COMPONENTS:
        pod = deployment(emulator, component)["spec"]["template"]["spec"]
        accounts[component] = (pod["serviceAccountName"], pod["automountServiceAccountToken"])
    for job in ("airflow-migrate", "airflow-admin"):
        pod = emulator.get_object("batch/v1", "Job", job, "finance-dev")["spec"]["template"]["spec"]
        accounts[job] = (pod["serviceAccountName"], pod["automountServiceAccountToken"])
    assert accounts == {"api-server": ("airflow-api-server", False), "scheduler": ("airflow-scheduler", True),
                        "dag-processor": ("airflow", False), "triggerer": ("airflow", False),
                        "airflow-migrate": ("airflow", False), "airflow-admin": ("airflow", False)}


def test_every_component_gets_the_same_generated_secrets_and_waits_for_the_migration(ansible, emulator):
    converge(ansible)
    secret = emulator.get_object("v1", "Secret", "airflow-secrets", "finance-dev")["data"]
    fernet = base64.urlsafe_b64decode(base64.b64decode(secret["fernet-key"]))
    assert len(fernet) == 32
    for component in COMPONENTS:
        pod = deployment(emulator, component)["spec"]["template"]["spec"]
        [container] = pod["containers"]
        refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
        assert refs["AIRFLOW__CORE__FERNET_KEY"] == {"name": "airflow-secrets", "key": "fernet-key"}
        assert refs["PGPASSWORD"] == {"name": "postgres-credentials", "key": "airflow-password"}
        # The JWT secret only where tokens are signed (scheduler) and checked (api-server).
        jwt = refs.get("AIRFLOW__API_AUTH__JWT_SECRET")
        assert jwt == ({"name": "airflow-secrets", "key": "jwt-secret"}
                       if component in ("api-server", "scheduler") else None), component
        assert pod["initContainers"][0]["args"][:3] == ["airflow", "db", "check-migrations"], component
    job = emulator.get_object("batch/v1", "Job", "airflow-migrate", "finance-dev")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["airflow", "db", "migrate"]


def test_settings_have_one_source_and_the_inventory_can_override_them(ansible, emulator):
    converge(ansible, extra_vars={"airflow_config": {"AIRFLOW__CORE__PARALLELISM": "8"}})
    data = emulator.get_object("v1", "ConfigMap", "airflow-config", "finance-dev")["data"]
    assert data["AIRFLOW__CORE__AUTH_MANAGER"].endswith("FabAuthManager")
    assert data["AIRFLOW__CORE__EXECUTOR"] == "KubernetesExecutor"
    assert data["AIRFLOW__CORE__PARALLELISM"] == "8"
    assert data["AIRFLOW__METRICS__STATSD_ON"] == "True" and data["AIRFLOW__LOGGING__JSON_LOGS"] == "True"
    assert data["AIRFLOW__KUBERNETES_EXECUTOR__NAMESPACE"] == "finance-dev"
    assert "kind: Pod" in data["pod_template_file.yaml"]
    assert not any("password" in v.lower() or "fernet" in v.lower() for k, v in data.items() if k.startswith("AIRFLOW"))


def test_replicas_and_ingress_follow_the_environment(ansible, emulator):
    converge(ansible, "prod")
    assert deployment(emulator, "scheduler", "finance-prod")["spec"]["replicas"] == 2
    assert deployment(emulator, "dag-processor", "finance-prod")["spec"]["replicas"] == 1
    ingress = emulator.get_object("networking.k8s.io/v1", "Ingress", "airflow", "finance-prod")
    assert ingress["spec"]["tls"] == [{"hosts": ["finance-airflow.prod.example.com"], "secretName": "airflow-tls"}]


def test_openshift_gets_an_edge_route_and_no_fixed_uid(ansible, emulator):
    register_openshift(emulator)
    converge(ansible)
    route = emulator.get_object("route.openshift.io/v1", "Route", "airflow", "finance-dev")
    assert route["spec"]["tls"]["termination"] == "edge"
    assert emulator.get_object("networking.k8s.io/v1", "Ingress", "airflow", "finance-dev") is None
    pod = deployment(emulator, "scheduler")["spec"]["template"]["spec"]
    assert "runAsUser" not in pod["securityContext"]


def test_git_sync_replaces_the_dag_volume(ansible, emulator):
    converge(ansible)
    run = converge(ansible, extra_vars={"airflow_dags_git_repo": "https://git.example.com/dags.git"})
    pod = deployment(emulator, "scheduler")["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["scheduler", "git-sync"]
    assert "persistentVolumeClaim" not in [v for v in pod["volumes"] if v["name"] == "dags"][0]
    apply = run.task_results("Render and apply every role's objects in one call")["finance"]
    assert {"kind": "PersistentVolumeClaim", "name": "airflow-dags", "namespace": "finance-dev",
            "action": "orphaned", "reason": "kept: PersistentVolumeClaim holds data; delete it by hand"} in apply["objects"]
