"""The dr role on Kubernetes (against the emulator, or EDP_TEST_KUBECONFIG): the backup
CronJobs and their RBAC, edp-k8s-backup.sh run for real with kubectl, and the backup, restore
and drill playbooks' one-off Jobs."""

import datetime
import json
import os
import pathlib
import shutil
import stat
import subprocess

import pytest
import yaml

from conftest import REPO, failure_messages, register_openshift
from lib import policy

from ansible_collections.edp.platform.plugins.module_utils import pg_archive as pa

NS = "finance-dev"
SCRIPT = REPO / "roles" / "dr" / "files" / "edp-k8s-backup.sh"
BACKUP_CRONJOBS = ["postgres-dump", "postgres-basebackup", "config-export"]
AIRFLOW = ["airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"]
KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl not on PATH")


def converge(ansible, *args, **kwargs):
    run = ansible.playbook("site.yml", "dev", *args, **kwargs)
    assert run.rc == 0, failure_messages(run)
    return run


def cronjob(emulator, name):
    return emulator.get_object("batch/v1", "CronJob", name, NS)


def pod_of(obj):
    return policy.pod_spec(obj)


def kubectl_env(tmp_path, kubeconfig, **extra):
    """A fresh HOME for kubectl (its discovery cache) and the emulator's kubeconfig."""
    home = tmp_path / ("home-%d" % len(list(tmp_path.glob("home-*"))))
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "K8S_AUTH"))}
    env.update(HOME=str(home), KUBECONFIG=str(kubeconfig), NAMESPACE=NS)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_script(env, command):
    proc = subprocess.run(["sh", str(SCRIPT), command], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, "edp-k8s-backup.sh %s failed: %s%s" % (command, proc.stdout, proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def env_of(obj):
    [container] = pod_of(obj)["containers"]
    return {e["name"]: e.get("value") for e in container["env"]}


# -- the objects site.yml applies ----------------------------------------------------------

def test_site_converges_the_dr_objects_and_a_rerun_writes_nothing(ansible, emulator):
    converge(ansible)
    for name in BACKUP_CRONJOBS:
        assert cronjob(emulator, name) is not None, "CronJob %s was not applied" % name
    assert cronjob(emulator, "postgres-snapshot") is None, "a snapshot CronJob without dr_snapshot_class"
    assert cronjob(emulator, "postgres-dump")["spec"]["schedule"] == "15 1 * * *"
    assert cronjob(emulator, "postgres-basebackup")["spec"]["schedule"] == "45 1 * * 0"
    scripts = emulator.get_object("v1", "ConfigMap", "dr-scripts", NS)["data"]
    for name in ("edp-backup.sh", "edp-k8s-backup.sh"):
        assert scripts[name] == (REPO / "roles" / "dr" / "files" / name).read_text(), \
            "ConfigMap dr-scripts does not hold %s as it is in files/" % name
    # edp-backup.sh counts rows with pg_dump_verify's own query, mounted beside it.
    assert scripts["edp-row-counts.sql"] == pa.ROW_COUNTS_SQL
    emulator.reset_requests()
    converge(ansible)
    assert emulator.writes() == [], "the rerun wrote: %s" % emulator.writes()


def test_the_cronjobs_run_the_scripts_with_concurrency_forbidden_and_deadlines(ansible, emulator):
    converge(ansible, extra_vars={"dr_snapshot_class": "csi-snapclass"})
    commands = {
        "postgres-dump": ["bash", "/opt/edp-dr/edp-backup.sh", "dump"],
        "postgres-basebackup": ["bash", "/opt/edp-dr/edp-backup.sh", "basebackup"],
        "config-export": ["sh", "/opt/edp-dr/edp-k8s-backup.sh", "export"],
        "postgres-snapshot": ["sh", "/opt/edp-dr/edp-k8s-backup.sh", "snapshot"],
    }
    for name, command in commands.items():
        obj = cronjob(emulator, name)
        spec = obj["spec"]
        assert spec["concurrencyPolicy"] == "Forbid", name
        assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1, name
        job = spec["jobTemplate"]["spec"]
        assert job["backoffLimit"] <= 2 and job["activeDeadlineSeconds"] > 0, name
        [container] = pod_of(obj)["containers"]
        assert container["command"] == command, name
        assert container["resources"] == {"requests": {"cpu": "100m", "memory": "256Mi"},
                                          "limits": {"cpu": "1", "memory": "1Gi"}}, name
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert mounts["scripts"] == "/opt/edp-dr" and mounts["tmp"] == "/tmp", name
        assert pod_of(obj)["imagePullSecrets"] == [{"name": "edp-registry"}], name
    dump = env_of(cronjob(emulator, "postgres-dump"))
    assert dump["BACKUP_ROOT"] == "/backup" and dump["PGHOST"] == "postgres" and dump["PGUSER"] == "postgres"
    assert dump["PGDATABASE"] == "airflow" and dump["DB_OWNER"] == "airflow" and dump["DUMP_KEEP_COUNT"] == "7"
    [container] = pod_of(cronjob(emulator, "postgres-dump"))["containers"]
    password = next(e for e in container["env"] if e["name"] == "PGPASSWORD")
    assert password["valueFrom"]["secretKeyRef"] == {"name": "postgres-credentials", "key": "superuser-password"}
    assert container["image"] == "registry.example.com/edp/postgres:15.18-edp.2"
    [container] = pod_of(cronjob(emulator, "config-export"))["containers"]
    assert container["image"] == "registry.example.com/edp/kubectl:1.32.4-edp.1"
    volumes = {v["name"]: v for v in pod_of(cronjob(emulator, "postgres-dump"))["volumes"]}
    assert volumes["backup"]["persistentVolumeClaim"]["claimName"] == "postgres-backup"
    assert volumes["scripts"]["configMap"]["name"] == "dr-scripts"
    assert "backup" not in {v["name"] for v in pod_of(cronjob(emulator, "postgres-snapshot"))["volumes"]}


def test_backup_pods_are_restricted_and_only_the_kubectl_ones_get_a_token(ansible, emulator):
    converge(ansible, extra_vars={"dr_snapshot_class": "csi-snapclass"})
    for name in BACKUP_CRONJOBS + ["postgres-snapshot"]:
        obj = cronjob(emulator, name)
        assert policy.check_pod_security(obj) == [], name
        pod = pod_of(obj)
        assert pod["securityContext"]["runAsUser"] == 999 and pod["securityContext"]["fsGroup"] == 999, name
        assert pod["securityContext"]["runAsGroup"] == 999, name
        [container] = pod["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        kubectl = name in ("config-export", "postgres-snapshot")
        assert pod["automountServiceAccountToken"] is kubectl, name
        assert pod.get("serviceAccountName") == ("edp-dr" if kubectl else None), name
    account = emulator.get_object("v1", "ServiceAccount", "edp-dr", NS)
    assert account["automountServiceAccountToken"] is False
    binding = emulator.get_object("rbac.authorization.k8s.io/v1", "RoleBinding", "edp-dr", NS)
    assert binding["roleRef"]["name"] == "edp-dr"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "edp-dr", "namespace": NS}]


def test_openshift_gets_no_fixed_uid(ansible, emulator):
    register_openshift(emulator)
    converge(ansible)
    for name in BACKUP_CRONJOBS:
        obj = cronjob(emulator, name)
        assert policy.check_pod_security(obj, openshift=True) == [], name
        sc = pod_of(obj)["securityContext"]
        assert "runAsUser" not in sc and "fsGroup" not in sc and sc["runAsNonRoot"] is True, name


@pytest.mark.parametrize("mode, affinity", [("ReadWriteOnce", True), ("ReadWriteMany", False)])
def test_backup_pods_run_beside_postgres_unless_the_backup_volume_is_read_write_many(ansible, emulator, mode, affinity):
    converge(ansible, extra_vars={"postgres_backup_access_mode": mode, "dr_snapshot_class": "csi-snapclass"})
    for name in BACKUP_CRONJOBS:
        pod = pod_of(cronjob(emulator, name))
        if not affinity:
            assert "affinity" not in pod, "%s has an affinity with a %s backup volume" % (name, mode)
            continue
        [term] = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term == {"labelSelector": {"matchLabels": {"app.kubernetes.io/name": "postgres",
                                                          "app.kubernetes.io/instance": "finance"}},
                        "topologyKey": "kubernetes.io/hostname"}, name
    # The snapshot needs no backup volume, so no node either.
    assert "affinity" not in pod_of(cronjob(emulator, "postgres-snapshot"))


def role_rules(emulator):
    rules = emulator.get_object("rbac.authorization.k8s.io/v1", "Role", "edp-dr", NS)["rules"]
    return {(g, r, v) for rule in rules for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}


EXPORTED = {("", r) for r in ("resourcequotas", "limitranges", "serviceaccounts", "secrets", "configmaps",
                              "services", "persistentvolumeclaims")}
EXPORTED |= {("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "rolebindings"),
             ("networking.k8s.io", "networkpolicies"), ("networking.k8s.io", "ingresses"),
             ("policy", "poddisruptionbudgets"), ("apps", "statefulsets"), ("apps", "deployments"),
             ("batch", "jobs"), ("batch", "cronjobs"), ("route.openshift.io", "routes"),
             ("monitoring.coreos.com", "servicemonitors"), ("monitoring.coreos.com", "podmonitors"),
             ("monitoring.coreos.com", "prometheusrules"), ("sparkoperator.k8s.io", "scheduledsparkapplications"),
             ("security.istio.io", "peerauthentications"), ("security.istio.io", "authorizationpolicies")}


def test_the_role_grants_exactly_what_the_scripts_use(ansible, emulator):
    converge(ansible)
    assert role_rules(emulator) == {(g, r, "list") for g, r in EXPORTED}
    converge(ansible, extra_vars={"dr_snapshot_class": "csi-snapclass"})
    assert role_rules(emulator) == {(g, r, "list") for g, r in EXPORTED} | {
        ("snapshot.storage.k8s.io", "volumesnapshots", v) for v in ("create", "list", "delete")}


def test_the_snapshot_cronjob_comes_with_a_snapshot_class_and_goes_without(ansible, emulator):
    converge(ansible)
    assert cronjob(emulator, "postgres-snapshot") is None
    converge(ansible, extra_vars={"dr_snapshot_class": "csi-snapclass", "dr_snapshot_keep_count": 3,
                                  "dr_snapshot_schedule": "0 */6 * * *"})
    obj = cronjob(emulator, "postgres-snapshot")
    assert obj["spec"]["schedule"] == "0 */6 * * *"
    env = env_of(obj)
    assert env["SNAPSHOT_CLASS"] == "csi-snapclass" and env["SNAPSHOT_KEEP_COUNT"] == "3"
    assert env["SNAPSHOT_PVC"] == "postgres-data"
    run = converge(ansible)
    assert cronjob(emulator, "postgres-snapshot") is None, "the snapshot CronJob was not pruned"
    apply = run.task_results("Render and apply every role's objects in one call")["finance"]
    assert {"kind": "CronJob", "name": "postgres-snapshot", "namespace": NS, "action": "deleted"} in apply["objects"]


def test_a_bad_schedule_or_missing_kubectl_image_fails_before_any_write(ansible, emulator):
    emulator.reset_requests()
    run = ansible.playbook("site.yml", "dev", extra_vars={
        "dr_dump_schedule": "61 * * * *",
        "edp_images": {"airflow": "registry.example.com/edp/airflow:3.3.2-edp.4",
                       "postgres": "registry.example.com/edp/postgres:15.18-edp.2"}})
    assert run.rc != 0
    messages = failure_messages(run)
    assert "dr_dump_schedule" in messages and "edp_images.kubectl" in messages, messages
    assert emulator.writes() == []


# -- edp-k8s-backup.sh with the real kubectl ---------------------------------------------------

def snapshots(emulator):
    import urllib.request

    url = "%s/apis/snapshot.storage.k8s.io/v1/namespaces/%s/volumesnapshots" % (emulator.url, NS)
    with urllib.request.urlopen(url) as reply:
        return sorted(i["metadata"]["name"] for i in json.load(reply)["items"])


def set_ready(emulator, name):
    import urllib.request

    url = "%s/apis/snapshot.storage.k8s.io/v1/namespaces/%s/volumesnapshots/%s/status" % (emulator.url, NS, name)
    req = urllib.request.Request(url, data=json.dumps({"status": {"readyToUse": True}}).encode(), method="PATCH",
                                 headers={"Content-Type": "application/merge-patch+json"})
    urllib.request.urlopen(req).read()


@needs_kubectl
def test_snapshot_creates_volume_snapshots_valid_by_the_crd_and_keeps_the_newest(emulator, kubeconfig, tmp_path):
    if not hasattr(emulator, "create"):
        pytest.skip("needs the emulator")
    emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    env = kubectl_env(tmp_path, kubeconfig, SNAPSHOT_CLASS="csi-snapclass", SNAPSHOT_PVC="postgres-data",
                      SNAPSHOT_KEEP_COUNT=2, TENANT="finance")
    made = [run_script(env, "snapshot")["snapshot"] for _ in range(3)]
    assert len(set(made)) == 3 and made == sorted(made), made
    assert snapshots(emulator) == made[-2:], "not the newest two kept"
    snap = emulator.get_object("snapshot.storage.k8s.io/v1", "VolumeSnapshot", made[-1], NS)
    assert snap["spec"] == {"volumeSnapshotClassName": "csi-snapclass",
                            "source": {"persistentVolumeClaimName": "postgres-data"}}
    assert snap["metadata"]["labels"]["edp.platform/snapshot-of"] == "postgres-data"
    assert snap["metadata"]["labels"]["app.kubernetes.io/instance"] == "finance"
    # The newest ready snapshot survives the retention even when newer ones are not ready.
    set_ready(emulator, made[1])
    result = run_script(dict(env, SNAPSHOT_KEEP_COUNT="1"), "snapshot")
    assert snapshots(emulator) == [made[1], result["snapshot"]]
    assert result["deleted"] == [made[2]] and result["kept"] == 2
    # A snapshot that the CRD's schema refuses is refused by the emulator (it validates by it).
    proc = subprocess.run([KUBECTL, "-n", NS, "create", "-f", "-"], env=env, capture_output=True, text=True,
                          input=yaml.safe_dump({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                                                "metadata": {"name": "bad"}, "spec": {"source": {"bogus": 1}}}))
    assert proc.returncode != 0


@needs_kubectl
def test_export_writes_the_tenants_objects_without_server_fields_and_keeps_the_newest(ansible, emulator,
                                                                                      kubeconfig, tmp_path):
    converge(ansible)
    resources = env_of(cronjob(emulator, "config-export"))["EXPORT_RESOURCES"]
    root = tmp_path / "backup"
    env = kubectl_env(tmp_path, kubeconfig, BACKUP_ROOT=root, EXPORT_RESOURCES=resources, EXPORT_KEEP_COUNT=2)
    result = run_script(env, "export")
    folder = pathlib.Path(result["export"])
    assert folder.parent == root / "config" and folder.is_dir()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and stat.S_IMODE((root / "config").stat().st_mode) == 0o700
    files = sorted(p.name for p in folder.iterdir())
    assert "secrets.yaml" in files and "cronjobs.batch.yaml" in files and "statefulsets.apps.yaml" in files, files
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, "%s is not 0600" % path.name
    assert "routes.route.openshift.io" in result["skipped"], "Routes are not served off OpenShift"
    exported = {}
    for path in folder.iterdir():
        doc = yaml.safe_load(path.read_text())
        assert doc["kind"] == "List" and "metadata" not in doc, path.name
        for item in doc["items"]:
            meta = item["metadata"]
            exported[(item["kind"], meta["name"])] = item
            for field in ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation"):
                assert field not in meta, "%s %s keeps metadata.%s" % (item["kind"], meta["name"], field)
            assert "status" not in item, "%s %s keeps its status" % (item["kind"], meta["name"])
            assert meta["labels"]["app.kubernetes.io/managed-by"] == "edp.platform"
    assert result["objects"] == len(exported)
    secret = exported[("Secret", "postgres-credentials")]
    live = emulator.get_object("v1", "Secret", "postgres-credentials", NS)
    assert secret["data"] == live["data"], "the Secret's data was not exported as it is"
    conf = exported[("ConfigMap", "postgres-config")]["data"]["postgresql.conf"]
    assert conf == emulator.get_object("v1", "ConfigMap", "postgres-config", NS)["data"]["postgresql.conf"]
    assert ("StatefulSet", "postgres") in exported and ("CronJob", "config-export") in exported
    assert exported[("StatefulSet", "postgres")]["spec"]["template"]["spec"]["containers"][0]["name"] == "postgres"
    # Retention: the newest two exports.
    second = run_script(env, "export")
    third = run_script(env, "export")
    kept = sorted(p.name for p in (root / "config").iterdir())
    assert kept == sorted([pathlib.Path(second["export"]).name, pathlib.Path(third["export"]).name])
    assert third["deleted"] == [folder.name]


# -- backup, restore and drill playbooks --------------------------------------------------------

def jobs(emulator, prefix):
    import urllib.request

    with urllib.request.urlopen("%s/apis/batch/v1/namespaces/%s/jobs" % (emulator.url, NS)) as reply:
        return [j for j in json.load(reply)["items"] if j["metadata"]["name"].startswith(prefix)]


def test_backup_playbook_runs_a_job_from_the_dump_cronjob_and_reports_it(ansible, emulator):
    converge(ansible)
    run = ansible.playbook("playbooks/backup.yml", "dev", "--limit", "finance")
    assert run.rc == 0, failure_messages(run)
    [job] = jobs(emulator, "postgres-dump-")
    template = cronjob(emulator, "postgres-dump")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"][0]["command"] == ["bash", "/opt/edp-dr/edp-backup.sh", "dump"]
    assert pod["containers"][0]["image"] == template["containers"][0]["image"]
    assert pod["securityContext"] == template["securityContext"] and pod["affinity"] == template["affinity"]
    assert "app.kubernetes.io/managed-by" not in job["metadata"]["labels"], "site.yml would prune it"
    assert any(c["type"] == "Complete" for c in job["status"]["conditions"])
    [report] = run.task_results("Report the dump").values()
    assert job["metadata"]["name"] in report["msg"] and "completed" in report["msg"]


def test_backup_playbook_says_to_run_site_first(ansible, emulator):
    emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    run = ansible.playbook("playbooks/backup.yml", "dev", "--limit", "finance")
    assert run.rc != 0 and "run site.yml for tenant finance first" in failure_messages(run)


def airflow_replicas(emulator):
    return {name: emulator.get_object("apps/v1", "Deployment", name, NS)["spec"]["replicas"] for name in AIRFLOW}


def scale(emulator, kind, name, replicas):
    import urllib.request

    url = "%s/apis/apps/v1/namespaces/%s/%ss/%s" % (emulator.url, NS, kind.lower(), name)
    req = urllib.request.Request(url, data=json.dumps({"spec": {"replicas": replicas}}).encode(), method="PATCH",
                                 headers={"Content-Type": "application/merge-patch+json"})
    urllib.request.urlopen(req).read()


def scaled_to(run, task):
    """{name: replicas} that a k8s_scale loop task left, from its results."""
    [host] = run.task_results(task).values()
    return {r["item"]["key"]: r["result"]["spec"]["replicas"] for r in host["results"]}


def test_restore_stops_airflow_restores_the_newest_dump_and_starts_airflow_again(ansible, emulator):
    converge(ansible)
    scale(emulator, "Deployment", "airflow-scheduler", 2)
    before = airflow_replicas(emulator)
    run = ansible.playbook("playbooks/restore.yml", "dev", "--limit", "finance")
    assert run.rc == 0, failure_messages(run)
    assert scaled_to(run, "Stop Airflow (scale its Deployments to 0)") == {name: 0 for name in AIRFLOW}
    assert airflow_replicas(emulator) == before == dict({n: 1 for n in AIRFLOW}, **{"airflow-scheduler": 2})
    [job] = jobs(emulator, "postgres-restore-")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "bash", "/opt/edp-dr/edp-backup.sh", "restore", "newest"]
    # Airflow was stopped before the restore Job was created, and started after it.
    writes = [(e["method"], e["path"]) for e in emulator.writes()]
    job_post = writes.index(("POST", "/apis/batch/v1/namespaces/%s/jobs" % NS))
    scheduler = [i for i, (m, p) in enumerate(writes) if p.startswith(
        "/apis/apps/v1/namespaces/%s/deployments/airflow-scheduler" % NS) and m in ("PATCH", "PUT")]
    assert scheduler[0] < job_post < scheduler[-1], writes


def test_with_pgbouncer_the_restore_job_has_the_postgres_roles_pgbouncer_sql_beside_the_script(ansible, emulator):
    """A dump restore makes PgBouncer's auth function the superuser's again (edp-backup.sh runs
    edp-pgbouncer.sql beside itself: test_dr_local proves that against a real server); on
    Kubernetes that file is postgres-config's pgbouncer.sql, projected into the scripts volume."""
    converge(ansible, extra_vars={"postgres_pgbouncer": True})
    run = ansible.playbook("playbooks/restore.yml", "dev", "--limit", "finance",
                           extra_vars={"postgres_pgbouncer": True})
    assert run.rc == 0, failure_messages(run)
    [job] = jobs(emulator, "postgres-restore-")
    pod = job["spec"]["template"]["spec"]
    [scripts] = [v for v in pod["volumes"] if v["name"] == "scripts"]
    assert scripts["projected"]["sources"] == [
        {"configMap": {"name": "dr-scripts"}},
        {"configMap": {"name": "postgres-config", "items": [{"key": "pgbouncer.sql", "path": "edp-pgbouncer.sql"}]}}]
    [mount] = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "scripts"]
    assert mount["mountPath"] == "/opt/edp-dr"
    assert {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}["PGBOUNCER_USER"] == "pgbouncer"
    sql = emulator.get_object("v1", "ConfigMap", "postgres-config", NS)["data"]["pgbouncer.sql"]
    assert "get_auth" in sql and "SECURITY DEFINER" in sql
    # Without PgBouncer the scripts volume is dr-scripts alone (nothing to make again).
    converge(ansible)
    [plain] = [v for v in pod_of(cronjob(emulator, "postgres-dump"))["volumes"] if v["name"] == "scripts"]
    assert plain["configMap"]["name"] == "dr-scripts" and "projected" not in plain


def test_restore_to_a_point_in_time_stops_postgres_and_mounts_its_data(ansible, emulator):
    converge(ansible)
    target = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    emulator.reset_requests()
    run = ansible.playbook("playbooks/restore.yml", "dev", "--limit", "finance",
                           extra_vars={"restore_target_time": target})
    assert run.rc == 0, failure_messages(run)
    [prepare] = jobs(emulator, "postgres-pitr-prepare-")
    pod = prepare["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["command"] == ["bash", "/opt/edp-dr/edp-backup.sh", "pitr-prepare", target]
    assert {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"} in container["env"]
    assert {"name": "data", "mountPath": "/var/lib/postgresql/data"} in container["volumeMounts"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "postgres-data"}} in pod["volumes"]
    assert "affinity" not in pod, "the postgres pod is gone while pitr-prepare runs"
    [finish] = jobs(emulator, "postgres-pitr-finish-")
    assert finish["spec"]["template"]["spec"]["containers"][0]["command"][-1] == "pitr-finish"
    assert emulator.get_object("apps/v1", "StatefulSet", "postgres", NS)["spec"]["replicas"] == 1
    [stop] = run.task_results("Stop PostgreSQL (scale StatefulSet postgres to 0)").values()
    assert stop["result"]["spec"]["replicas"] == 0
    [restart] = run.task_results("Restart PostgreSQL without the recovery settings (scale to 0)").values()
    assert restart["changed"] and restart["result"]["spec"]["replicas"] == 0
    assert airflow_replicas(emulator) == {n: 1 for n in AIRFLOW}


NOT_ISO = ("Give either restore_archive (a dump's name or path, or newest) or restore_target_time, not both; "
           "restore_target_time must be a time in ISO 8601 with its zone, such as 2026-11-28T17:00:00Z or "
           "2026-11-28T18:00:00+01:00 (got %s).")


CHECK_INPUTS = "Check the restore's inputs before changing anything"
REFUSE_TIME = "Refuse restore_target_time"


@pytest.mark.parametrize("target,task,message", [
    ("yesterday", CHECK_INPUTS, NOT_ISO % '"yesterday"'),
    ("2026-11-28 17:00", CHECK_INPUTS, NOT_ISO % '"2026-11-28 17:00"'),
    # ISO 8601 in form, no date (month 13): Python's own words, through Ansible's.
    ("2026-13-01T00:00:00Z", REFUSE_TIME,
     "restore_target_time 2026-13-01T00:00:00Z is refused: Task failed: The filter plugin "
     "'ansible.builtin.to_datetime' failed: time data '2026-13-01T00:00:00+00:00' does not match format "
     "'%Y-%m-%dT%H:%M:%S%z'"),
    ("2999-01-01T00:00:00Z", REFUSE_TIME,
     "restore_target_time 2999-01-01T00:00:00Z is refused: it is in the future: nothing to recover to yet"),
])
def test_restore_refuses_a_bad_target_time_before_changing_anything(ansible, emulator, target, task, message):
    converge(ansible)
    emulator.reset_requests()
    run = ansible.playbook("playbooks/restore.yml", "dev", "--limit", "finance",
                           extra_vars={"restore_target_time": target})
    assert run.rc != 0
    result = run.task_results(task)["finance"]
    assert result.get("failed") and result["msg"] == message, failure_messages(run)
    assert emulator.writes() == []
    assert airflow_replicas(emulator) == {n: 1 for n in AIRFLOW}


def test_drill_playbook_runs_a_drill_job_and_removes_it(ansible, emulator):
    converge(ansible)
    run = ansible.playbook("playbooks/dr_drill.yml", "dev", "--limit", "finance")
    assert run.rc == 0, failure_messages(run)
    posts = [e for e in emulator.writes() if e["method"] == "POST" and e["path"].endswith("/jobs")]
    assert len(posts) == 1
    assert jobs(emulator, "postgres-drill-") == [], "the drill Job was not deleted"
    [report] = run.task_results("Report the drill").values()
    assert "Drill Job postgres-drill-" in report["msg"]
