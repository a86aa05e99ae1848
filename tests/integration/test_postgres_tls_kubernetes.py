"""TLS on the postgres server on Kubernetes (against the emulator): without cert-manager the apply
makes a certificate authority and a server certificate for the Service's names once, keeps them and
renews them before they end; with postgres_tls_issuer a cert-manager Certificate, valid against its
CRD, or an error before any write when the cluster does not serve it; the server mounts only its
certificate and key, every client of the database only the authority and verifies the server.

cert-manager itself is not run here (only its CRD's schema is served): nobody fills the Secret
from the Certificate in these tests."""

import base64
import datetime

from cryptography import x509

from conftest import failure_messages, render_objects
from lib.emulator_http import request, without_cert_manager
from ansible_collections.edp.platform.plugins.module_utils import k8s_tls

NS = "finance-dev"
APPLY = "Render and apply every role's objects in one call"
NAMES = ["postgres", "postgres.finance-dev", "postgres.finance-dev.svc", "postgres.finance-dev.svc.cluster.local"]
ISSUER = {"postgres_tls_issuer": {"kind": "ClusterIssuer", "name": "platform-ca"}}


def converge(ansible, *args, **kwargs):
    run = ansible.playbook("site.yml", "dev", "--limit", "finance", *args, **kwargs)
    assert run.rc == 0, failure_messages(run)
    return run


def tls_secret(emulator):
    secret = emulator.get_object("v1", "Secret", "postgres-tls", NS)
    assert secret is not None, "no Secret postgres-tls"
    return secret


def pem(secret, key):
    return base64.b64decode(secret["data"][key])


def certificate(secret, key="tls.crt"):
    return x509.load_pem_x509_certificate(pem(secret, key))


def test_without_cert_manager_the_secret_holds_an_authority_and_a_server_certificate_it_signed(ansible, emulator):
    without_cert_manager(emulator)
    converge(ansible)
    secret = tls_secret(emulator)
    assert secret["type"] == "kubernetes.io/tls" and sorted(secret["data"]) == ["ca.crt", "ca.key", "tls.crt", "tls.key"]
    server, ca = certificate(secret), certificate(secret, "ca.crt")
    assert k8s_tls.subject_alt_names(server) == sorted("DNS:" + n for n in NAMES)
    assert k8s_tls.signed_by(server, ca), "the server certificate is not signed by the Secret's authority"
    lifetime = server.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(days=364) < lifetime <= datetime.timedelta(days=365), lifetime
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    emulator.reset_requests()
    converge(ansible)
    assert tls_secret(emulator)["data"] == secret["data"]
    assert emulator.writes() == [], "the rerun wrote: %s" % emulator.writes()


def test_key_material_never_reaches_the_output(ansible, emulator):
    run = ansible.playbook("site.yml", "dev", "--limit", "finance", "-vvv", "--diff", json_output=False)
    assert run.rc == 0, run.output[-2000:]
    secret = tls_secret(emulator)
    for key in ("ca.key", "tls.key"):
        assert secret["data"][key] not in run.output, "%s printed (base64)" % key
        body = pem(secret, key).decode().splitlines()[1]
        assert body not in run.output, "%s printed" % key


def test_a_certificate_about_to_expire_is_renewed_and_the_authority_kept(ansible, emulator):
    converge(ansible)
    secret = tls_secret(emulator)
    ca_cert = certificate(secret, "ca.crt")
    ca_key = k8s_tls._load_key(pem(secret, "ca.key"))
    # A certificate of the same authority with 10 days left (fewer than postgres_tls_renew_days).
    now = datetime.datetime.now(datetime.timezone.utc)
    short, key = k8s_tls.make_server(NAMES, 10, now, ca_cert, ca_key)
    secret["data"]["tls.crt"] = k8s_tls._b64(k8s_tls._pem_cert(short))
    secret["data"]["tls.key"] = k8s_tls._b64(k8s_tls._pem_key(key))
    for field in ("managedFields", "resourceVersion"):
        secret["metadata"].pop(field, None)
    status, body = request(emulator, "PUT", "/api/v1/namespaces/%s/secrets/postgres-tls" % NS, secret)
    assert status == 200, body
    converge(ansible)
    renewed = tls_secret(emulator)
    assert renewed["data"]["ca.crt"] == secret["data"]["ca.crt"] and renewed["data"]["ca.key"] == secret["data"]["ca.key"]
    server = certificate(renewed)
    assert server.serial_number != short.serial_number
    assert k8s_tls.days_left(server, now) > 360 and k8s_tls.signed_by(server, ca_cert)
    emulator.reset_requests()
    converge(ansible)
    assert emulator.writes() == [], "the rerun after the renewal wrote: %s" % emulator.writes()


def test_with_an_issuer_a_certificate_valid_against_its_crd_and_a_rerun_writes_nothing(ansible, emulator):
    converge(ansible, extra_vars=ISSUER)
    cert = emulator.get_object("cert-manager.io/v1", "Certificate", "postgres-tls", NS)
    assert cert is not None, "no Certificate postgres-tls"
    spec = cert["spec"]
    assert spec["secretName"] == "postgres-tls" and spec["dnsNames"] == NAMES
    assert spec["duration"] == "8760h" and spec["renewBefore"] == "720h"
    assert spec["privateKey"]["algorithm"] == "ECDSA" and "server auth" in spec["usages"]
    assert spec["issuerRef"] == {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "platform-ca"}
    # cert-manager writes the Secret: the apply makes none.
    assert emulator.get_object("v1", "Secret", "postgres-tls", NS) is None
    emulator.reset_requests()
    converge(ansible, extra_vars=ISSUER)
    assert emulator.writes() == [], "the rerun wrote: %s" % emulator.writes()


def test_an_issuer_named_without_cert_manager_fails_before_any_write(ansible, emulator):
    without_cert_manager(emulator)
    emulator.reset_requests()
    run = ansible.playbook("site.yml", "dev", "--limit", "finance", extra_vars=ISSUER)
    assert run.rc != 0
    message = failure_messages(run)
    assert ("nothing was changed: Certificate finance-dev/postgres-tls needs the CRD certificates.cert-manager.io "
            "(cert-manager.io/v1), which the cluster does not serve: install it or leave postgres_tls_issuer empty"
            in message), message
    assert emulator.writes() == [], "wrote before failing: %s" % emulator.writes()


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env") or []}


def mounts_of(container):
    return {m["name"]: m["mountPath"] for m in container.get("volumeMounts") or []}


def test_the_server_mounts_its_key_and_every_client_only_the_authority(ansible, emulator):
    converge(ansible)
    sts = emulator.get_object("apps/v1", "StatefulSet", "postgres", NS)["spec"]["template"]["spec"]
    [tls] = [v for v in sts["volumes"] if v.get("secret", {}).get("secretName") == "postgres-tls"]
    assert [i["key"] for i in tls["secret"]["items"]] == ["tls.crt", "tls.key"]
    assert tls["secret"]["defaultMode"] == 0o640
    assert sts["shareProcessNamespace"] is True
    containers = {c["name"]: c for c in sts["containers"]}
    assert set(containers) == {"postgres", "tls-reload"}
    assert mounts_of(containers["postgres"])["tls"] == "/etc/postgresql-tls"
    assert mounts_of(containers["tls-reload"]) == {"tls": "/etc/postgresql-tls"}
    conf = emulator.get_object("v1", "ConfigMap", "postgres-config", NS)["data"]
    assert "ssl = 'on'" in conf["postgresql.conf"] and "ssl_min_protocol_version = 'TLSv1.2'" in conf["postgresql.conf"]
    assert "ssl_key_file = '/etc/postgresql-tls/tls.key'" in conf["postgresql.conf"]
    network = [line for line in conf["pg_hba.conf"].splitlines() if "0.0.0.0/0" in line]
    assert network and all(line.startswith("hostssl ") and line.endswith(" scram-sha-256") for line in network)

    clients = {}
    for kind, name in [("Deployment", "airflow-scheduler"), ("Deployment", "airflow-api-server"),
                       ("Deployment", "airflow-dag-processor"), ("Deployment", "airflow-triggerer"),
                       ("Deployment", "postgres-exporter"), ("Job", "airflow-migrate"), ("Job", "postgres-bootstrap"),
                       ("CronJob", "postgres-dump"), ("CronJob", "postgres-basebackup")]:
        api = {"Deployment": "apps/v1", "Job": "batch/v1", "CronJob": "batch/v1"}[kind]
        obj = emulator.get_object(api, kind, name, NS)
        assert obj is not None, "no %s %s" % (kind, name)
        template = obj["spec"]["jobTemplate"]["spec"]["template"] if kind == "CronJob" else obj["spec"]["template"]
        clients[name] = template["spec"]
    for name, pod in clients.items():
        volumes = [v for v in pod["volumes"] if v.get("secret", {}).get("secretName") == "postgres-tls"]
        assert [[i["key"] for i in v["secret"]["items"]] for v in volumes] == [["ca.crt"]], name
        for container in pod.get("initContainers", []) + pod["containers"]:
            env = env_of(container)
            if name == "postgres-exporter":
                assert "sslmode=verify-full&sslrootcert=/etc/postgresql-ca/ca.crt" in env["DATA_SOURCE_URI"]
            elif "PGPASSWORD" in env or "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in env or name == "postgres-bootstrap":
                assert env.get("PGSSLMODE") == "verify-full", (name, container["name"])
                assert env.get("PGSSLROOTCERT") == "/etc/postgresql-ca/ca.crt", (name, container["name"])
            else:
                continue
            assert mounts_of(container).get("postgres-ca") == "/etc/postgresql-ca", (name, container["name"])


def test_an_external_database_gets_no_platform_authority(ansible, emulator):
    converge(ansible, extra_vars={"airflow_database_host": "db.example.com"})
    pod = emulator.get_object("apps/v1", "Deployment", "airflow-scheduler", NS)["spec"]["template"]["spec"]
    assert not [v for v in pod["volumes"] if v.get("secret", {}).get("secretName") == "postgres-tls"]
    for container in pod["initContainers"] + pod["containers"]:
        assert "PGSSLMODE" not in env_of(container) and "postgres-ca" not in mounts_of(container)


def test_render_mode_writes_the_certificate_with_an_issuer_and_the_secret_without(ansible_offline, tmp_path):
    with_issuer = render_objects(ansible_offline, tmp_path / "issuer", "dev", "--limit", "finance", **ISSUER)
    names = {(o["kind"], o["metadata"]["name"]) for o in with_issuer}
    assert ("Certificate", "postgres-tls") in names and ("Secret", "postgres-tls") not in names
    without = render_objects(ansible_offline, tmp_path / "plain", "dev", "--limit", "finance")
    [secret] = [o for o in without if o["kind"] == "Secret" and o["metadata"]["name"] == "postgres-tls"]
    assert k8s_tls.subject_alt_names(certificate(secret)) == sorted("DNS:" + n for n in NAMES)
    assert not [o for o in without if o["kind"] == "Certificate"]
