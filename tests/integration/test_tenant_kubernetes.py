"""site.yml against a Kubernetes API (the emulator, or EDP_TEST_KUBECONFIG): converge,
idempotence, check mode, drift, prune, diff and secrets."""

import base64
import json
import urllib.request

import pytest
import yaml

from conftest import REPO, failure_messages

TENANTS = ["finance", "marketing"]


def patch(emulator, path, body):
    req = urllib.request.Request(emulator.url + path, data=json.dumps(body).encode(), method="PATCH",
                                 headers={"Content-Type": "application/merge-patch+json",
                                          "Authorization": "Bearer test"})
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


def converge(ansible, *args, **kwargs):
    run = ansible.playbook("site.yml", "dev", *args, **kwargs)
    assert run.rc == 0, failure_messages(run)
    return run


def test_converge_creates_each_tenant_namespace_quota_limits_and_pull_secret(ansible, emulator):
    run = converge(ansible)
    assert run.changed("finance") == 1 and run.changed("marketing") == 1
    ns = emulator.get_object("v1", "Namespace", "finance-dev")
    labels = ns["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["edp.platform/environment"] == "dev"
    assert labels["edp.platform/tenant"] == "finance"
    assert labels["app.kubernetes.io/managed-by"] == "edp.platform"
    quota = emulator.get_object("v1", "ResourceQuota", "finance-quota", "finance-dev")
    assert quota["spec"]["hard"]["requests.memory"] == "6Gi"
    limits = emulator.get_object("v1", "LimitRange", "marketing-limits", "marketing-dev")
    assert limits["spec"]["limits"][0]["defaultRequest"] == {"cpu": "100m", "memory": "256Mi"}
    secret = emulator.get_object("v1", "Secret", "edp-registry", "finance-dev")
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    auths = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))["auths"]
    assert auths["registry.example.com"]["username"] == "edp-pull-dev"
    assert auths["registry.example.com"]["password"] == ansible.registry_password


def test_rerun_changes_nothing_and_sends_no_write(ansible, emulator):
    first = converge(ansible).task_results("Render and apply every role's objects in one call")["finance"]
    emulator.reset_requests()
    run = converge(ansible)
    assert run.changed() == 0
    assert emulator.writes() == [], "a rerun with nothing to change wrote: %s" % emulator.writes()
    apply = run.task_results("Render and apply every role's objects in one call")
    assert apply["finance"]["counts"] == {"unchanged": first["counts"]["created"]}
    assert apply["finance"]["requests"]["writes"] == 0


def test_check_mode_on_an_empty_cluster_reports_changes_and_writes_nothing(ansible, emulator):
    run = converge(ansible, "--check")
    assert run.changed("finance") == 1
    assert emulator.writes() == []
    assert emulator.get_object("v1", "Namespace", "finance-dev") is None


def test_check_mode_after_converge_reports_no_change(ansible, emulator):
    converge(ansible)
    emulator.reset_requests()
    run = converge(ansible, "--check")
    assert run.changed() == 0
    assert emulator.writes() == []


def test_check_mode_dry_runs_a_pending_change_without_storing_it(ansible, emulator):
    converge(ansible)
    emulator.reset_requests()
    # 19 pods still hold the platform's own (validation refuses a quota that cannot).
    run = converge(ansible, "--check", extra_vars={"tenant_quota": {"pods": "19"}})
    assert run.changed() == 2
    assert emulator.writes() == []
    assert any(r["dry_run"] for r in emulator.requests()), "the pending change was not dry-run on the server"
    assert emulator.get_object("v1", "ResourceQuota", "finance-quota", "finance-dev")["spec"]["hard"]["pods"] == "20"


def test_a_hand_edit_is_put_back_and_only_that_object_is_written(ansible, emulator):
    converge(ansible)
    patch(emulator, "/api/v1/namespaces/finance-dev/resourcequotas/finance-quota",
          {"spec": {"hard": {"pods": "999"}}})
    emulator.reset_requests()
    run = converge(ansible)
    assert run.changed("finance") == 1 and run.changed("marketing") == 0
    assert emulator.get_object("v1", "ResourceQuota", "finance-quota", "finance-dev")["spec"]["hard"]["pods"] == "20"
    written = [r["path"] for r in emulator.writes()]
    # The object put back, then the release that records the run (README "Roll back a release").
    assert written == ["/api/v1/namespaces/finance-dev/resourcequotas/finance-quota",
                       "/api/v1/namespaces/finance-dev/secrets/edp-release.v2"], written


def test_a_removed_quota_entry_is_removed_from_the_cluster(ansible, emulator):
    converge(ansible)
    # Fewer entries, each the inventory's, so that they still hold the platform (validation
    # refuses a quota that cannot).
    dev = REPO / "inventories" / "dev" / "group_vars" / "tenants" / "main.yml"
    quota = yaml.safe_load(dev.read_text())["tenant_quota"]
    smaller = {k: quota[k] for k in ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory")}
    converge(ansible, extra_vars={"tenant_quota": smaller})
    hard = emulator.get_object("v1", "ResourceQuota", "finance-quota", "finance-dev")["spec"]["hard"]
    assert set(hard) == set(smaller), "fields no longer rendered stayed on the server: %s" % hard


def test_an_object_no_longer_rendered_is_pruned(ansible, emulator):
    converge(ansible)
    run = converge(ansible, extra_vars={"edp_registry": ""})
    assert emulator.get_object("v1", "Secret", "edp-registry", "finance-dev") is None
    apply = run.task_results("Render and apply every role's objects in one call")["finance"]
    assert {"kind": "Secret", "name": "edp-registry", "namespace": "finance-dev", "action": "deleted"} \
        in apply["objects"]
    assert emulator.get_object("v1", "Namespace", "finance-dev") is not None


def test_the_namespace_is_never_pruned(ansible, emulator):
    converge(ansible)
    run = converge(ansible, extra_vars={"tenant_create_namespace": False, "edp_registry": ""})
    assert emulator.get_object("v1", "Namespace", "finance-dev") is not None
    assert emulator.get_object("v1", "ResourceQuota", "finance-quota", "finance-dev") is not None
    assert run.changed("finance") == 1  # only the pull secret went


def test_diff_shows_the_change_but_masks_secret_values(ansible, emulator):
    converge(ansible)
    run = ansible.playbook("site.yml", "dev", "--diff", json_output=False,
                           extra_vars={"tenant_registry_password": "rotated-Passw0rd-xyz",
                                       "tenant_quota": {"pods": "21"}})
    assert run.rc == 0, run.output[-2000:]
    assert "pods" in run.stdout and "21" in run.stdout
    assert "********" in run.stdout
    assert "rotated-Passw0rd-xyz" not in run.output
    assert base64.b64encode(b"rotated-Passw0rd-xyz").decode()[:12] not in run.output


def test_vvv_output_never_contains_the_registry_password(ansible, emulator):
    run = ansible.playbook("site.yml", "dev", "-vvv", json_output=False)
    assert run.rc == 0, run.output[-2000:]
    secret = ansible.registry_password
    encoded = base64.b64encode(("edp-pull-dev:" + secret).encode()).decode()
    for needle in (secret, encoded, base64.b64encode(secret.encode()).decode()[:16]):
        assert needle not in run.output, "a form of the registry password was printed"


def test_roles_run_on_their_own_apply_their_objects_the_same_way(ansible, emulator, tmp_path):
    playbook = tmp_path / "roles-alone.yml"
    playbook.write_text("- hosts: tenants\n  roles: [edp.platform.tenant, edp.platform.postgres, "
                        "edp.platform.airflow, edp.platform.spark_rbac, edp.platform.spark, edp.platform.dr, "
                        "edp.platform.monitoring, edp.platform.network_policy]\n")
    run = ansible.playbook(str(playbook), "dev")
    assert run.rc == 0, failure_messages(run)
    assert emulator.get_object("v1", "LimitRange", "finance-limits", "finance-dev") is not None
    assert emulator.get_object("apps/v1", "StatefulSet", "postgres", "finance-dev") is not None
    assert emulator.get_object("apps/v1", "Deployment", "airflow-scheduler", "finance-dev") is not None
    emulator.reset_requests()
    run = ansible.playbook(str(playbook), "dev")
    assert run.changed() == 0 and emulator.writes() == []
    # and its result equals what site.yml makes: site.yml after it writes nothing
    run = converge(ansible)
    assert run.changed() == 0 and emulator.writes() == []


def test_unreachable_cluster_fails_with_a_clear_message(ansible_offline, tmp_path):
    config = tmp_path / "kubeconfig-dead"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {token: t}}]\n")
    run = ansible_offline.playbook("site.yml", "dev", env={"K8S_AUTH_KUBECONFIG": config})
    assert run.rc != 0
    assert "cannot reach http://127.0.0.1:9" in failure_messages(run)


@pytest.mark.parametrize("env", ["test", "staging", "prod"])
def test_every_environment_converges_and_reruns_clean(ansible, emulator, env):
    run = ansible.playbook("site.yml", env)
    assert run.rc == 0, failure_messages(run)
    emulator.reset_requests()
    run = ansible.playbook("site.yml", env)
    assert run.rc == 0 and run.changed() == 0 and emulator.writes() == []


def test_inventory_host_vars_override_the_environment(ansible, emulator):
    assert ansible.playbook("site.yml", "prod").rc == 0
    ns = emulator.get_object("v1", "Namespace", "marketing-prod")
    assert ns["metadata"]["labels"]["cost-center"] == "mkt-4711"
    assert "cost-center" not in emulator.get_object("v1", "Namespace", "finance-prod")["metadata"]["labels"]

