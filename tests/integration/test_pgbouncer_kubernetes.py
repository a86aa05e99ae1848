"""PgBouncer in front of the postgres role's server on Kubernetes (postgres_pgbouncer), against the
emulator: its objects strictly valid, the cert-manager Certificate valid against its CRD;
without cert-manager the apply makes PgBouncer's certificate into postgres-tls with the server's,
by the same authority (CN pgbouncer, its Service's names, server and client auth), keeps it and
renews it before it ends; with postgres_tls_issuer a Certificate pgbouncer-tls; a rerun writes
nothing either way; its settings hold no password; Airflow's components connect through it and
their migrations to the server; switched off, its objects are pruned.

cert-manager itself is not run here (only its CRD's schema is served): nobody fills pgbouncer-tls
from the Certificate in these tests."""

import base64
import configparser
import datetime
import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from conftest import BIN, REPO, failure_messages, render_objects
from lib.emulator_http import request, without_cert_manager
from ansible_collections.edp.platform.plugins.module_utils import capacity, k8s_tls

NS = "finance-dev"
ON = {"postgres_pgbouncer": True}
ISSUER = {"postgres_tls_issuer": {"kind": "ClusterIssuer", "name": "platform-ca"}}
NAMES = ["pgbouncer", "pgbouncer.finance-dev", "pgbouncer.finance-dev.svc", "pgbouncer.finance-dev.svc.cluster.local"]
KUBE_VERSIONS = ["1.31.0", "1.37.0"]
# What the role makes for PgBouncer, by kind and name (the Certificate only with an issuer).
OBJECTS = [("apps/v1", "Deployment", "pgbouncer"), ("v1", "Service", "pgbouncer"),
           ("v1", "ConfigMap", "pgbouncer-config"), ("v1", "ServiceAccount", "pgbouncer"),
           ("networking.k8s.io/v1", "NetworkPolicy", "pgbouncer")]
COMPONENTS = ["airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"]


def converge(ansible, *args, extra_vars=None, **kwargs):
    run = ansible.playbook("site.yml", "dev", "--limit", "finance", *args,
                           extra_vars=dict(ON, **(extra_vars or {})), **kwargs)
    assert run.rc == 0, failure_messages(run) if kwargs.get("json_output", True) else run.output[-3000:]
    return run


def get(emulator, api_version, kind, name):
    obj = emulator.get_object(api_version, kind, name, NS)
    assert obj is not None, "no %s %s" % (kind, name)
    return obj


def certificate(secret, key):
    return x509.load_pem_x509_certificate(base64.b64decode(secret["data"][key]))


def pod_spec(emulator, kind, name):
    obj = get(emulator, "batch/v1" if kind == "Job" else "apps/v1", kind, name)
    return obj["spec"]["template"]["spec"]


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env") or []}


def secret_items(pod, secret_name):
    """The keys each volume of ``secret_name`` mounts, per volume."""
    return [[i["key"] for i in v["secret"].get("items") or [{"key": "*"}]]
            for v in pod["volumes"] if v.get("secret", {}).get("secretName") == secret_name]


def ini(emulator):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(get(emulator, "v1", "ConfigMap", "pgbouncer-config")["data"]["pgbouncer.ini"])
    return parser


def assert_pgbouncer_certificate(cert, ca):
    assert k8s_tls.signed_by(cert, ca), "PgBouncer's certificate is not signed by the tenant's authority"
    assert k8s_tls.common_name(cert) == "pgbouncer"
    assert k8s_tls.subject_alt_names(cert) == sorted("DNS:" + n for n in NAMES)
    usages = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert usages == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}, usages


def test_the_objects_are_valid_strictly_and_the_certificate_against_its_crd(ansible_offline, emulator, tmp_path):
    """Rendered with and without an issuer, on Kubernetes and OpenShift (no fixed UID there)."""
    rendered = []
    for name, extra in [("plain", {}), ("issuer", ISSUER), ("openshift", {"edp_flavour": "openshift"})]:
        objects = render_objects(ansible_offline, tmp_path / name, "dev", "--limit", "finance", **ON, **extra)
        ours = [o for o in objects if o["metadata"]["name"] in ("pgbouncer", "pgbouncer-config", "pgbouncer-tls")]
        assert {(o["kind"], o["metadata"]["name"]) for o in ours} >= {(k, n) for _, k, n in OBJECTS}, name
        rendered.append((name, ours))
        pod = next(o for o in ours if o["kind"] == "Deployment")["spec"]["template"]["spec"]
        if name == "openshift":
            assert "runAsUser" not in pod["securityContext"] and pod["securityContext"]["runAsNonRoot"] is True
    files = []
    for name, ours in rendered:
        for obj in ours:
            if obj["kind"] == "Certificate":
                continue
            path = tmp_path / ("%s-%s-%s.yaml" % (name, obj["kind"], obj["metadata"]["name"]))
            path.write_text(yaml.safe_dump(obj))
            files.append(str(path))
    for version in KUBE_VERSIONS:
        proc = subprocess.run([str(BIN / "kubernetes-validate"), "--strict", "--quiet", "-k", version] + files,
                              capture_output=True, text=True)
        assert proc.returncode == 0 and "warn" not in (proc.stdout + proc.stderr).lower(), proc.stdout + proc.stderr
    [cert] = [o for _, ours in rendered for o in ours if o["kind"] == "Certificate"]
    assert cert["metadata"]["name"] == "pgbouncer-tls"
    status, body = request(emulator, "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                                    "metadata": {"name": NS}})
    assert status == 201, body
    req = urllib.request.Request(
        emulator.url + "/apis/cert-manager.io/v1/namespaces/%s/certificates?fieldValidation=Strict&dryRun=All" % NS,
        data=json.dumps(cert).encode(), method="POST", headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req).read()
    except urllib.error.HTTPError as exc:
        raise AssertionError("the Certificate pgbouncer-tls is refused: %s" % exc.read()[:500])


def test_without_cert_manager_pgbouncer_gets_a_certificate_of_the_authority_and_a_rerun_writes_nothing(
        ansible, emulator):
    without_cert_manager(emulator)
    run = converge(ansible, "-vvv", "--diff", json_output=False)
    secret = get(emulator, "v1", "Secret", "postgres-tls")
    assert sorted(secret["data"]) == sorted(list(k8s_tls.KEYS) + ["pgbouncer.crt", "pgbouncer.key"])
    cert, ca = certificate(secret, "pgbouncer.crt"), certificate(secret, "ca.crt")
    assert_pgbouncer_certificate(cert, ca)
    lifetime = cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(days=364) < lifetime <= datetime.timedelta(days=365), lifetime
    for key in ("pgbouncer.key", "ca.key"):
        assert secret["data"][key] not in run.output, "%s printed (base64)" % key
        assert base64.b64decode(secret["data"][key]).decode().splitlines()[1] not in run.output, "%s printed" % key

    # PgBouncer mounts its own certificate and key and the authority, never the authority's key.
    pgbouncer = pod_spec(emulator, "Deployment", "pgbouncer")
    [tls] = [v for v in pgbouncer["volumes"] if v.get("secret")]
    assert tls["secret"]["secretName"] == "postgres-tls"
    assert tls["secret"]["items"] == [{"key": "pgbouncer.crt", "path": "tls.crt"},
                                      {"key": "pgbouncer.key", "path": "tls.key"}, {"key": "ca.crt", "path": "ca.crt"}]
    assert tls["secret"]["defaultMode"] == 0o440
    assert {c["name"] for c in pgbouncer["containers"]} == {"pgbouncer", "tls-reload"}
    assert pgbouncer["serviceAccountName"] == "pgbouncer" and pgbouncer["automountServiceAccountToken"] is False
    # The server trusts the authority's client certificates and never mounts PgBouncer's key.
    assert secret_items(pod_spec(emulator, "StatefulSet", "postgres"), "postgres-tls") == [
        ["tls.crt", "tls.key", "ca.crt"]]
    conf = get(emulator, "v1", "ConfigMap", "postgres-config")["data"]
    assert "ssl_ca_file = '/etc/postgresql-tls/ca.crt'" in conf["postgresql.conf"]
    assert conf["pg_hba.conf"].splitlines()[1] == "hostssl airflow pgbouncer 0.0.0.0/0 cert"
    # Airflow's pods: the authority alone.
    for kind, name in [("Deployment", c) for c in COMPONENTS] + [("Job", "airflow-migrate"), ("Job", "airflow-admin")]:
        assert secret_items(pod_spec(emulator, kind, name), "postgres-tls") == [["ca.crt"]], name

    # Its settings: no password anywhere, each user's secret read from the server.
    settings = ini(emulator)
    credentials = get(emulator, "v1", "Secret", "postgres-credentials")["data"]
    text = get(emulator, "v1", "ConfigMap", "pgbouncer-config")["data"]["pgbouncer.ini"]
    for key in ("superuser-password", "airflow-password"):
        assert base64.b64decode(credentials[key]).decode() not in text, "%s is in pgbouncer.ini" % key
    assert "password" not in text.lower() and "auth_file" not in settings["pgbouncer"]
    assert settings["pgbouncer"]["auth_type"] == "scram-sha-256" and settings["pgbouncer"]["auth_user"] == "pgbouncer"
    assert settings["pgbouncer"]["auth_query"] == "SELECT usename, passwd FROM pgbouncer.get_auth($1)"
    assert settings["pgbouncer"]["pool_mode"] == "transaction"
    # All that the server's max_connections leaves after the direct clients and the reserve.
    max_connections = yaml.safe_load((REPO / "inventories/dev/group_vars/tenants/main.yml").read_text())[
        "postgres_max_connections"]
    assert int(settings["pgbouncer"]["default_pool_size"]) == capacity.pgbouncer_pool_left(max_connections)
    assert settings["pgbouncer"]["max_db_connections"] == settings["pgbouncer"]["default_pool_size"]
    assert settings["pgbouncer"]["server_tls_sslmode"] == "verify-full"
    assert settings["databases"]["airflow"] == "host=postgres port=5432 dbname=airflow"

    # The bootstrap Job makes PgBouncer's role and function (pgbouncer.sql) after Airflow's.
    bootstrap = pod_spec(emulator, "Job", "postgres-bootstrap")
    command = bootstrap["containers"][0]["command"][-1]
    assert command.index("-f /bootstrap/bootstrap.sql") < command.index("-f /bootstrap/pgbouncer.sql"), command
    assert "-v pgbouncer_user=pgbouncer" in command
    sql = conf["pgbouncer.sql"]
    assert "CREATE OR REPLACE FUNCTION pgbouncer.get_auth" in sql and "GRANT EXECUTE" in sql

    emulator.reset_requests()
    converge(ansible)
    assert get(emulator, "v1", "Secret", "postgres-tls")["data"] == secret["data"]
    assert emulator.writes() == [], "the rerun wrote: %s" % emulator.writes()


def test_airflow_connects_through_pgbouncer_and_migrates_on_the_server(ansible, emulator):
    converge(ansible)
    for name in COMPONENTS:
        pod = pod_spec(emulator, "Deployment", name)
        for container in pod["initContainers"] + pod["containers"]:
            env = env_of(container)
            if "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in env:
                continue
            url = urllib.parse.urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
            assert (url.hostname, url.port) == ("pgbouncer", 6432), (name, container["name"], url)
            assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC"] == "edp_pgbouncer.ASYNC_CONNECT_ARGS"
            assert env["PGSSLMODE"] == "verify-full", (name, container["name"])
            mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
            assert mounts["/opt/airflow/config/edp_pgbouncer.py"]["subPath"] == "edp_pgbouncer.py", name
    for name in ("airflow-migrate", "airflow-admin"):
        pod = pod_spec(emulator, "Job", name)
        for container in pod["initContainers"] + pod["containers"]:
            env = env_of(container)
            url = urllib.parse.urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
            assert (url.hostname, url.port) == ("postgres", 5432), (name, container["name"], url)
            assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC" not in env
    config = get(emulator, "v1", "ConfigMap", "airflow-config")["data"]
    module = {}
    exec(compile(config["edp_pgbouncer.py"], "edp_pgbouncer.py", "exec"), module)  # noqa: S102 - our own file
    assert module["ASYNC_CONNECT_ARGS"]["statement_cache_size"] == 0
    service = get(emulator, "v1", "Service", "pgbouncer")
    assert service["spec"]["ports"][0]["port"] == 6432
    assert service["spec"]["selector"] == get(emulator, "apps/v1", "Deployment", "pgbouncer")["spec"]["selector"][
        "matchLabels"]


def test_a_pgbouncer_certificate_about_to_expire_is_renewed_and_the_rest_kept(ansible, emulator):
    converge(ansible)
    secret = get(emulator, "v1", "Secret", "postgres-tls")
    ca_cert = certificate(secret, "ca.crt")
    ca_key = k8s_tls._load_key(base64.b64decode(secret["data"]["ca.key"]))
    now = datetime.datetime.now(datetime.timezone.utc)
    short, key = k8s_tls.make_certificate("pgbouncer", NAMES, ["server", "client"], 10, now, ca_cert, ca_key)
    secret["data"]["pgbouncer.crt"] = k8s_tls._b64(k8s_tls._pem_cert(short))
    secret["data"]["pgbouncer.key"] = k8s_tls._b64(k8s_tls._pem_key(key))
    for field in ("managedFields", "resourceVersion"):
        secret["metadata"].pop(field, None)
    status, body = request(emulator, "PUT", "/api/v1/namespaces/%s/secrets/postgres-tls" % NS, secret)
    assert status == 200, body
    converge(ansible)
    renewed = get(emulator, "v1", "Secret", "postgres-tls")
    assert {k: renewed["data"][k] for k in k8s_tls.KEYS} == {k: secret["data"][k] for k in k8s_tls.KEYS}, (
        "the authority or the server's certificate changed with PgBouncer's")
    cert = certificate(renewed, "pgbouncer.crt")
    assert cert.serial_number != short.serial_number and k8s_tls.days_left(cert, now) > 360
    assert_pgbouncer_certificate(cert, ca_cert)
    emulator.reset_requests()
    converge(ansible)
    assert emulator.writes() == [], "the rerun after the renewal wrote: %s" % emulator.writes()


def test_with_an_issuer_a_certificate_that_the_pods_mount_and_off_prunes_it(ansible, emulator):
    converge(ansible, extra_vars=ISSUER)
    cert = get(emulator, "cert-manager.io/v1", "Certificate", "pgbouncer-tls")
    spec = cert["spec"]
    assert spec["secretName"] == "pgbouncer-tls" and spec["commonName"] == "pgbouncer" and spec["dnsNames"] == NAMES
    assert sorted(spec["usages"]) == ["client auth", "digital signature", "server auth"]
    assert spec["issuerRef"] == get(emulator, "cert-manager.io/v1", "Certificate", "postgres-tls")["spec"]["issuerRef"]
    pgbouncer = pod_spec(emulator, "Deployment", "pgbouncer")
    assert secret_items(pgbouncer, "pgbouncer-tls") == [["tls.crt", "tls.key", "ca.crt"]]
    assert secret_items(pgbouncer, "postgres-tls") == []
    # cert-manager writes both Secrets: the apply makes none.
    assert emulator.get_object("v1", "Secret", "postgres-tls", NS) is None
    emulator.reset_requests()
    converge(ansible, extra_vars=ISSUER)
    assert emulator.writes() == [], "the rerun wrote: %s" % emulator.writes()

    converge(ansible, extra_vars=dict(ISSUER, postgres_pgbouncer=False))
    assert emulator.get_object("cert-manager.io/v1", "Certificate", "pgbouncer-tls", NS) is None
    assert emulator.get_object("cert-manager.io/v1", "Certificate", "postgres-tls", NS) is not None


def test_switched_off_its_objects_are_pruned_and_airflow_connects_to_the_server(ansible, emulator):
    converge(ansible)
    for api_version, kind, name in OBJECTS:
        get(emulator, api_version, kind, name)
    converge(ansible, extra_vars={"postgres_pgbouncer": False})
    left = [(kind, name) for api_version, kind, name in OBJECTS
            if emulator.get_object(api_version, kind, name, NS) is not None]
    assert left == [], "not pruned: %s" % left
    assert sorted(get(emulator, "v1", "Secret", "postgres-tls")["data"]) == sorted(k8s_tls.KEYS)
    assert "pgbouncer" not in get(emulator, "v1", "ConfigMap", "postgres-config")["data"]["pg_hba.conf"]
    scheduler = pod_spec(emulator, "Deployment", "airflow-scheduler")["containers"][0]
    url = urllib.parse.urlsplit(env_of(scheduler)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert url.hostname == "postgres"
    assert "/opt/airflow/config/edp_pgbouncer.py" not in {m["mountPath"] for m in scheduler["volumeMounts"]}


@pytest.mark.parametrize("inventory, replicas", [("dev", 1), ("staging", 2)])
def test_two_pgbouncers_where_the_environment_asks_for_high_availability(ansible_offline, tmp_path,
                                                                        inventory, replicas):
    """dev: one; staging (edp_high_availability, and PgBouncer on in its inventory): two, each with
    its share of the server connections left for them."""
    objects = render_objects(ansible_offline, tmp_path, inventory, "--limit", "finance", **ON)
    [deployment] = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "pgbouncer"]
    assert deployment["spec"]["replicas"] == replicas
    [config] = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "pgbouncer-config"]
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(config["data"]["pgbouncer.ini"])
    max_connections = yaml.safe_load((REPO / "inventories" / inventory / "group_vars/tenants/main.yml").read_text())[
        "postgres_max_connections"]
    assert int(parser["pgbouncer"]["max_db_connections"]) == capacity.pgbouncer_pool_left(max_connections) // replicas
