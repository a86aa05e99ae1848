"""The postgres role on Kubernetes (against the emulator, or EDP_TEST_KUBECONFIG)."""

import base64

from conftest import failure_messages


def converge(ansible, *args, **kwargs):
    run = ansible.playbook("site.yml", "dev", *args, **kwargs)
    assert run.rc == 0, failure_messages(run)
    return run


def credentials(emulator, tenant="finance"):
    secret = emulator.get_object("v1", "Secret", "postgres-credentials", "%s-dev" % tenant)
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def test_passwords_are_generated_once_per_tenant_and_kept(ansible, emulator):
    converge(ansible)
    first = credentials(emulator)
    assert len(first["superuser-password"]) >= 32 and len(first["airflow-password"]) >= 32
    assert first["superuser-password"] != first["airflow-password"]
    assert credentials(emulator, "marketing")["airflow-password"] != first["airflow-password"]
    emulator.reset_requests()
    converge(ansible)
    assert credentials(emulator) == first
    assert emulator.writes() == []


def test_a_password_from_the_inventory_is_used(ansible, emulator):
    converge(ansible, extra_vars={"postgres_airflow_password": "from-the-vault-7f3a9c"})
    assert credentials(emulator)["airflow-password"] == "from-the-vault-7f3a9c"
    assert len(credentials(emulator)["superuser-password"]) >= 32


def test_generated_passwords_never_reach_the_output(ansible, emulator):
    run = ansible.playbook("site.yml", "dev", "-vvv", "--diff", json_output=False)
    assert run.rc == 0, run.output[-2000:]
    for tenant in ("finance", "marketing"):
        for key, value in credentials(emulator, tenant).items():
            if key.endswith("password"):
                assert value not in run.output, "%s %s printed" % (tenant, key)
                assert base64.b64encode(value.encode()).decode() not in run.output


def test_statefulset_runs_the_environment_image_with_the_tuned_config(ansible, emulator):
    converge(ansible)
    sts = emulator.get_object("apps/v1", "StatefulSet", "postgres", "finance-dev")
    pod = sts["spec"]["template"]["spec"]
    [container, reload] = pod["containers"]  # the server, and the sidecar that reloads its certificate
    assert container["name"] == "postgres" and reload["name"] == "tls-reload"
    assert reload["image"] == container["image"]
    assert container["image"] == "registry.example.com/edp/postgres:15.18-edp.2"
    assert container["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
    assert pod["imagePullSecrets"] == [{"name": "edp-registry"}]
    claims = {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v}
    assert claims == {"postgres-data", "postgres-backup"}
    conf = emulator.get_object("v1", "ConfigMap", "postgres-config", "finance-dev")["data"]["postgresql.conf"]
    assert "shared_buffers = '256MB'" in conf and "archive_mode = 'on'" in conf
    hba = emulator.get_object("v1", "ConfigMap", "postgres-config", "finance-dev")["data"]["pg_hba.conf"]
    assert "trust" not in hba and "md5" not in hba


def test_a_new_setting_rolls_the_pod_and_reruns_the_bootstrap_job(ansible, emulator):
    converge(ansible)
    sts = emulator.get_object("apps/v1", "StatefulSet", "postgres", "finance-dev")
    job = emulator.get_object("batch/v1", "Job", "postgres-bootstrap", "finance-dev")
    converge(ansible, extra_vars={"postgres_settings": {"work_mem": "16MB"}})
    sts2 = emulator.get_object("apps/v1", "StatefulSet", "postgres", "finance-dev")
    job2 = emulator.get_object("batch/v1", "Job", "postgres-bootstrap", "finance-dev")
    hash_of = lambda o: o["spec"]["template"]["metadata"]["annotations"]["edp.platform/config-hash"]  # noqa: E731
    assert hash_of(sts2) != hash_of(sts)
    assert job2["metadata"]["uid"] != job["metadata"]["uid"], "the Job was not replaced"
    assert hash_of(job2) == hash_of(sts2)


APPLY = "Render and apply every role's objects in one call"


def test_check_mode_on_a_setting_change_reports_the_job_it_would_replace_and_writes_nothing(ansible, emulator):
    """The bootstrap Job's template is immutable: the server's dry run of the change answers 422.
    --check says the run would replace the Job (as the real run does) instead of failing."""
    converge(ansible)
    job = emulator.get_object("batch/v1", "Job", "postgres-bootstrap", "finance-dev")
    emulator.reset_requests()
    run = converge(ansible, "--check", extra_vars={"postgres_settings": {"work_mem": "16MB"}})
    assert emulator.writes() == [], "check mode wrote: %s" % emulator.writes()
    objects = run.task_results(APPLY)["finance"]["objects"]
    [bootstrap] = [o for o in objects if o["kind"] == "Job" and o["name"] == "postgres-bootstrap"]
    assert bootstrap["action"] == "replaced" and "immutable" in bootstrap["reason"], bootstrap
    assert {"kind": "StatefulSet", "name": "postgres", "namespace": "finance-dev", "action": "updated"} in objects
    assert emulator.get_object("batch/v1", "Job", "postgres-bootstrap", "finance-dev")["metadata"]["uid"] == \
        job["metadata"]["uid"]
    # The real run does what check mode said.
    run = converge(ansible, extra_vars={"postgres_settings": {"work_mem": "16MB"}})
    [bootstrap] = [o for o in run.task_results(APPLY)["finance"]["objects"]
                   if o["kind"] == "Job" and o["name"] == "postgres-bootstrap"]
    assert bootstrap["action"] == "replaced"


def test_openshift_flavour_sets_no_fixed_uid(ansible, emulator):
    converge(ansible, extra_vars={"edp_flavour": "openshift"})
    pod = emulator.get_object("apps/v1", "StatefulSet", "postgres", "finance-dev")["spec"]["template"]["spec"]
    assert "runAsUser" not in pod["securityContext"] and "fsGroup" not in pod["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_openshift_is_detected_from_the_route_api(ansible, emulator):
    from conftest import register_openshift

    run = converge(ansible)
    assert run.task_results("Render and apply every role's objects in one call")["finance"]["flavour"] == "kubernetes"
    register_openshift(emulator)
    run = converge(ansible)
    assert run.task_results("Render and apply every role's objects in one call")["finance"]["flavour"] == "openshift"
    pod = emulator.get_object("apps/v1", "StatefulSet", "postgres", "finance-dev")["spec"]["template"]["spec"]
    assert "runAsUser" not in pod["securityContext"]
