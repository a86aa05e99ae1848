"""A bad inventory fails before anything is written, with a message naming the variable.

Each case is a tenant of its own, its bad values in its host_vars (where an inventory keeps
them), and all the cases of an environment are one site.yml run against the emulator: the
validation is per tenant, and one run costs a fortieth of forty. For each case the test asserts
that the run failed, that the validate task returned the case's whole message among its
tenant's errors, and that the emulator received no request that writes.
"""

import copy
import os
import shutil

import pytest
import yaml

from conftest import REPO, Ansible, RealCluster, failure_messages, kubernetes_cluster

VALIDATE = "Validate every role's inputs for this tenant"
COLLISIONS = "Refuse tenants that share a namespace (every tenant of the inventory, --limit or not)"


def _changed(value, path, new):
    """A copy of ``value`` with ``path`` (dotted) set to ``new``: extra vars replace a whole mapping."""
    value = copy.deepcopy(value)
    *head, last = path.split(".")
    node = value
    for key in head:
        node = node[key]
    node[last] = new
    return value


# Sizes given in full where a message sums them, so that it does not change with the
# inventories' sizes; and the roles of the run, so that it does not change with new roles.
AIRFLOW_DEV = {
    "api_server": {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
    "scheduler": {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
    "dag_processor": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "1Gi"}},
    "triggerer": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "1Gi"}},
    "worker": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
    "migrate": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "1Gi"}},
}
REPLICAS_PROD = {"api_server": 2, "scheduler": 2, "dag_processor": 1, "triggerer": 2}
PLATFORM = {
    "edp_roles": ["tenant", "postgres", "airflow", "dr"],
    "postgres_resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
    "airflow_resources": AIRFLOW_DEV,
    "airflow_replicas": {"api_server": 1, "scheduler": 1, "dag_processor": 1, "triggerer": 1},
    "dr_resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
    "dr_snapshot_class": "", "airflow_dags_git_repo": "",
    "postgres_storage_size": "5Gi", "postgres_backup_storage_size": "10Gi",
    "airflow_dags_storage_size": "1Gi", "airflow_logs_storage_size": "10Gi",
    "postgres_max_connections": 100, "airflow_database_pool_size": 5, "airflow_database_max_overflow": 10,
    "tenant_quota": {"requests.cpu": "2", "requests.memory": "4Gi", "limits.cpu": "12", "limits.memory": "20Gi",
                     "requests.storage": "80Gi", "persistentvolumeclaims": "5", "pods": "20"},
    "tenant_limit_range": {"default": {"cpu": "500m", "memory": "512Mi"},
                           "default_request": {"cpu": "100m", "memory": "256Mi"},
                           "max": {"cpu": "2", "memory": "4Gi"}},
}


# A valid LDAP and OpenID Connect setting, which each case breaks in one place.
LDAP = {
    "airflow_auth": "ldap", "airflow_ldap_url": "ldaps://ldap.example.com",
    "airflow_ldap_bind_dn": "cn=airflow,ou=services,dc=example,dc=com", "airflow_ldap_bind_password": "b1nd-S3cret",
    "airflow_ldap_search_base": "ou=people,dc=example,dc=com",
    "airflow_ldap_roles": {"cn=airflow-ops,ou=groups,dc=example,dc=com": ["Op"]},
}
OIDC = {
    "airflow_auth": "oidc", "airflow_oidc_issuer": "https://idp.example.com", "airflow_oidc_client_id": "airflow",
    "airflow_oidc_client_secret": "cl1ent-S3cret", "airflow_oidc_roles": {"airflow-ops": ["Op"]},
    "airflow_ingress_host": "airflow.example.com",
}


def platform(**changes):
    """The PLATFORM sizes with some changed (a whole variable at a time)."""
    return dict(copy.deepcopy(PLATFORM), **changes)


CASES = [
    # (id, inventory, extra vars, one whole line of the validate task's errors)
    ("certificate-shorter-than-its-renewal-window", "dev", {"postgres_tls_days": 30, "postgres_tls_renew_days": 30},
     "postgres_tls_days: 30 is not more than postgres_tls_renew_days (30): a certificate must outlive the window "
     "in which it is renewed, or every run makes a new one"),
    ("tls-issuer-kind-unknown", "dev", {"postgres_tls_issuer": {"kind": "CertIssuer", "name": "platform-ca"}},
     "postgres_tls_issuer.kind: 'CertIssuer' is not one of Issuer, ClusterIssuer: the cert-manager issuer that "
     "signs the server's certificate"),
    ("tls-issuer-name-empty", "dev", {"postgres_tls_issuer": {"kind": "ClusterIssuer", "name": ""}},
     "postgres_tls_issuer.name: '' is not a DNS-1123 subdomain (lowercase dot-separated labels, "
     "at most 253 characters)"),
    # Templated from the tenant's name (each case's tenant is named after the case).
    ("namespace-not-dns1123", "dev", {"edp_namespace": "{{ inventory_hostname }}_Dev"},
     "edp_namespace: 'namespace-not-dns1123_Dev' is not a DNS-1123 label (lowercase letters, digits and '-', "
     "starting and ending with a letter or digit, at most 63 characters)"),
    ("tenant-name-not-dns1123", "dev", {"edp_tenant": "{{ inventory_hostname | upper }}"},
     "edp_tenant: 'TENANT-NAME-NOT-DNS1123' is not a DNS-1123 label (lowercase letters, digits and '-', "
     "starting and ending with a letter or digit, at most 63 characters)"),
    ("quota-not-a-quantity", "dev", {"tenant_quota": dict(PLATFORM["tenant_quota"], **{"requests.cpu": "2 cores"})},
     "tenant_quota['requests.cpu']: '2 cores' is not a Kubernetes quantity (such as 500m, 2, 512Mi, 10Gi)"),
    ("limit-not-a-quantity", "dev",
     {"tenant_limit_range": {"default": {"cpu": "1", "memory": "1 GB"}, "default_request": {"cpu": "1"},
                             "max": {"cpu": "2", "memory": "4Gi"}}},
     "tenant_limit_range.default['memory']: '1 GB' is not a Kubernetes quantity (such as 500m, 2, 512Mi, 10Gi)"),
    ("limit-range-missing-max", "dev",
     {"tenant_limit_range": {"default": {"cpu": "1"}, "default_request": {"cpu": "1"}}},
     "tenant: missing required arguments: max found in tenant_limit_range"),
    ("latest-tag-in-prod", "prod", {"edp_images": {"airflow": "registry.example.com/edp/airflow:latest"}},
     "edp_images['airflow']: 'registry.example.com/edp/airflow:latest' uses the tag 'latest': pin a version "
     "(this environment refuses 'latest')"),
    ("untagged-image-in-staging", "staging", {"edp_images": {"spark": "registry.example.com/edp/spark"}},
     "edp_images['spark']: 'registry.example.com/edp/spark' has no tag: pin a version "
     "(this environment refuses untagged images)"),
    ("placeholder-registry-password", "dev", {"tenant_registry_password": "changeme"},
     "tenant_registry_password: is a placeholder, not a secret: set the real value in a vaulted variable"),
    ("empty-registry-user", "dev", {"tenant_registry_username": ""}, "tenant_registry_username: is required"),
    ("unknown-target", "dev", {"edp_target": "openstack"},
     "edp: value of edp_target must be one of: kubernetes, local, got: openstack"),
    ("unknown-pod-security-level", "dev", {"tenant_pod_security_level": "privileged"},
     "tenant: value of tenant_pod_security_level must be one of: restricted, baseline, got: privileged"),
    ("bad-label", "dev", {"edp_labels": {"cost-center": "fin 0815"}},
     "edp_labels: label 'cost-center' has an invalid value 'fin 0815' (at most 63 letters, digits, '-', '_' "
     "or '.', starting and ending with a letter or digit)"),
    ("storage-class-not-dns1123", "dev", {"edp_storage_class": "Fast_SSD"},
     "edp_storage_class: 'Fast_SSD' is not a DNS-1123 subdomain (lowercase dot-separated labels, "
     "at most 253 characters)"),
    ("quota-wrong-type", "dev", {"tenant_quota": "lots"},
     "tenant: argument 'tenant_quota' is of type str and we were unable to convert to dict: "
     "dictionary requested, could not parse JSON or key=value"),
    ("wait-timeout-wrong-type", "dev", {"edp_wait_timeout": "soon"},
     "edp: argument 'edp_wait_timeout' is of type str and we were unable to convert to int: "
     "\"'soon'\" cannot be converted to an int"),
    ("backup-schedule-out-of-range", "dev", {"dr_dump_schedule": "15 25 * * *"},
     "dr_dump_schedule: '15 25 * * *': the hour field '25' is not valid (0-23)"),
    ("retention-age-not-a-duration", "dev", {"dr_dump_keep_age": "two weeks"},
     "dr_dump_keep_age: 'two weeks' is not seconds or a duration such as 14d, 26h, 90m, 1d12h"),
    ("backup-volume-only-for-one-pod", "dev", {"postgres_backup_access_mode": "ReadWriteOncePod"},
     "postgres_backup_access_mode: 'ReadWriteOncePod' is not one of ReadWriteOnce, ReadWriteMany: "
     "the dr role's backup Jobs mount the backup volume while the postgres pod does"),
    # A typo is an error, with the closest declared name.
    ("typo-storage-size", "prod", {"postgres_storage_sise": "20Gi"},
     "postgres_storage_sise: no role of edp.platform declares this variable (did you mean postgres_storage_size?)"),
    ("typo-keep-count", "dev", {"dr_dump_keep_cout": 3},
     "dr_dump_keep_cout: no role of edp.platform declares this variable (did you mean dr_dump_keep_count?)"),
    ("typo-replicas", "prod", {"airflow_replica": {"scheduler": 3}},
     "airflow_replica: no role of edp.platform declares this variable (did you mean airflow_replicas?)"),
    ("undeclared-without-a-near-name", "dev", {"edp_cost_centre_owner": "fin"},
     "edp_cost_centre_owner: no role of edp.platform declares this variable "
     "(if it is meant, list it in edp_extra_variables)"),
    # Quantities of every component, requests and limits alike.
    ("airflow-request-not-a-quantity", "dev",
     {"airflow_resources": _changed(AIRFLOW_DEV, "scheduler.requests.cpu", "lots")},
     "airflow_resources.scheduler.requests.cpu: 'lots' is not a Kubernetes quantity (such as 500m, 2, 512Mi, 10Gi)"),
    ("worker-limit-below-zero", "dev",
     {"airflow_resources": _changed(AIRFLOW_DEV, "worker.limits.memory", "-1Gi")},
     "airflow_resources.worker.limits.memory: '-1Gi' is below zero"),
    ("migrate-resources-missing", "dev",
     {"airflow_resources": {k: v for k, v in AIRFLOW_DEV.items() if k != "migrate"}},
     "airflow_resources.migrate: is not set"),
    ("airflow-resources-unknown-component", "dev",
     {"airflow_resources": dict(AIRFLOW_DEV, schedular=AIRFLOW_DEV["scheduler"])},
     "airflow_resources: has an unknown key 'schedular' (api_server, scheduler, dag_processor, triggerer, "
     "worker, migrate)"),
    ("resources-unknown-key", "dev",
     {"airflow_resources": _changed(AIRFLOW_DEV, "triggerer", {"request": {"cpu": "1"}, "limits": {"cpu": "1"}})},
     "airflow_resources.triggerer: has an unknown key 'request' (requests, limits)"),
    ("dr-request-not-a-quantity", "dev",
     {"dr_resources": {"requests": {"cpu": "1 core"}, "limits": {"cpu": "1"}}},
     "dr_resources.requests.cpu: '1 core' is not a Kubernetes quantity (such as 500m, 2, 512Mi, 10Gi)"),
    ("storage-size-zero", "dev", {"postgres_storage_size": "0Gi"},
     "postgres_storage_size: '0Gi' is not a size above zero"),
    # Requests within limits, LimitRange in order.
    ("airflow-request-above-limit", "dev",
     {"airflow_resources": _changed(AIRFLOW_DEV, "scheduler", {"requests": {"cpu": "3", "memory": "512Mi"},
                                                                "limits": {"cpu": "2", "memory": "2Gi"}})},
     "airflow_resources.scheduler.requests.cpu: 3 is more than its limit 2"),
    ("postgres-request-above-limit", "dev",
     {"postgres_resources": {"requests": {"cpu": "250m", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}},
     "postgres_resources.requests.memory: 2Gi is more than its limit 1Gi"),
    ("dr-request-above-limit", "dev",
     {"dr_resources": {"requests": {"cpu": "2", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}},
     "dr_resources.requests.cpu: 2 is more than its limit 500m"),
    ("limit-range-request-above-default", "dev",
     {"tenant_limit_range": {"default": {"cpu": "500m", "memory": "512Mi"},
                             "default_request": {"cpu": "1", "memory": "256Mi"},
                             "max": {"cpu": "2", "memory": "4Gi"}}},
     "tenant_limit_range.default_request.cpu: 1 is more than tenant_limit_range.default.cpu 500m"),
    ("limit-range-default-above-max", "dev",
     {"tenant_limit_range": {"default": {"cpu": "500m", "memory": "8Gi"},
                             "default_request": {"cpu": "100m", "memory": "256Mi"},
                             "max": {"cpu": "2", "memory": "4Gi"}}},
     "tenant_limit_range.default.memory: 8Gi is more than tenant_limit_range.max.memory 4Gi"),
    # Replicas, and high availability where the environment asks for it.
    ("replicas-below-zero", "dev",
     {"airflow_replicas": {"api_server": 1, "scheduler": 1, "dag_processor": -1, "triggerer": 1}},
     "airflow_replicas.dag_processor: -1 is not a whole number of at least 0"),
    ("replicas-unknown-component", "dev",
     {"airflow_replicas": {"api_server": 1, "schedulers": 1, "dag_processor": 1, "triggerer": 1}},
     "airflow_replicas: has an unknown key 'schedulers' (api_server, scheduler, dag_processor, triggerer)"),
    ("one-scheduler-in-prod", "prod", {"airflow_replicas": dict(REPLICAS_PROD, scheduler=1)},
     "airflow_replicas.scheduler: 1 is less than 2: edp_high_availability asks for a second scheduler"),
    ("one-api-server-in-staging", "staging", {"airflow_replicas": dict(REPLICAS_PROD, api_server=1)},
     "airflow_replicas.api_server: 1 is less than 2: edp_high_availability asks for a second api-server"),
    # Ports.
    ("postgres-port-out-of-range", "dev", {"postgres_port": 70000}, "postgres_port: 70000 is not a port (1-65535)"),
    ("api-port-zero", "dev", {"airflow_api_port": 0}, "airflow_api_port: 0 is not a port (1-65535)"),
    ("database-port-not-the-postgres-port", "dev", {"airflow_database_port": 5433},
     "airflow_database_port: 5433 is not postgres_port 5432: Airflow connects to the postgres role's Service, "
     "which listens on postgres_port"),
    # Environments from a known set.
    ("unknown-environment", "prod", {"edp_environment": "prodution"},
     "edp_environment: 'prodution' is not one of local, dev, test, staging, prod: "
     "a new environment must first be added to edp_environments"),
    ("pinned-environment-unknown", "dev", {"edp_pinned_environments": ["staging", "production"]},
     "edp_pinned_environments[1]: 'production' is not one of local, dev, test, staging, prod: "
     "a name that is no environment pins nothing"),
    # An e-mail address that is one.
    ("admin-email-not-an-address", "dev", {"airflow_admin_email": "admin at example.com"},
     "airflow_admin_email: 'admin at example.com' is not an e-mail address (such as name@example.com)"),
    # Durations and retentions above zero.
    ("retention-age-zero", "dev", {"dr_dump_keep_age": "0d"}, "dr_dump_keep_age: '0d' is not a duration above zero"),
    ("max-age-zero", "dev", {"dr_max_age": 0}, "dr_max_age: 0 is not a duration above zero"),
    ("archive-timeout-zero", "dev", {"postgres_archive_timeout": 0},
     "postgres_archive_timeout: 0 is not a whole number of at least 1"),
    ("keep-count-zero", "dev", {"dr_dump_keep_count": 0}, "dr_dump_keep_count: 0 is not a whole number of at least 1"),
    ("release-history-zero", "dev", {"edp_release_history": 0},
     "edp_release_history: 0 is not a whole number of at least 1"),
    # Enough database connections, with the arithmetic.
    ("max-connections-too-few", "dev", platform(postgres_max_connections=50),
     "postgres_max_connections: 50 is fewer than the 71 connections the platform may open: "
     "api_server 1 × (5 + 10) = 15 + scheduler 1 × (5 + 10) = 15 + dag_processor 1 × (5 + 10) = 15 + "
     "triggerer 1 × (5 + 10) = 15 + airflow migrate job 2 + airflow admin job 1 + postgres bootstrap job 1 + "
     "backup dump 2 + backup drill or restore 1 + base backup 1 + superuser_reserved_connections 3 = 71"),
    # prod without its PgBouncer: Airflow's pools on the server itself.
    ("pool-too-big-for-prod", "prod",
     platform(airflow_replicas=REPLICAS_PROD, postgres_max_connections=200, airflow_database_pool_size=20,
              postgres_pgbouncer=False),
     "postgres_max_connections: 200 is fewer than the 221 connections the platform may open: "
     "api_server 2 × (20 + 10) = 60 + scheduler 2 × (20 + 10) = 60 + dag_processor 1 × (20 + 10) = 30 + "
     "triggerer 2 × (20 + 10) = 60 + airflow migrate job 2 + airflow admin job 1 + postgres bootstrap job 1 + "
     "backup dump 2 + backup drill or restore 1 + base backup 1 + superuser_reserved_connections 3 = 221"),
    # With PgBouncer: its pool within what the server's connections leave it, and room for every
    # client connection Airflow's pools may open.
    ("pgbouncer-pool-bigger-than-the-server-allows", "dev",
     platform(postgres_pgbouncer=True, postgres_pgbouncer_pool_size=90),
     "postgres_pgbouncer_pool_size: 90 is more than the 89 server connections postgres_max_connections 100 "
     "leaves for it: 100 - airflow migrate job 2 - airflow admin job 1 - postgres bootstrap job 1 - backup dump 2 - "
     "backup drill or restore 1 - base backup 1 - superuser_reserved_connections 3 = 89"),
    ("pgbouncer-clients-below-airflow-pools", "dev",
     platform(postgres_pgbouncer=True, postgres_pgbouncer_max_client_conn=50),
     "postgres_pgbouncer_max_client_conn: 50 is fewer than the 60 connections Airflow's components may open: "
     "api_server 1 × (5 + 10) = 15 + scheduler 1 × (5 + 10) = 15 + dag_processor 1 × (5 + 10) = 15 + "
     "triggerer 1 × (5 + 10) = 15 = 60"),
    ("pool-size-in-airflow-config", "dev", {"airflow_config": {"AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "50"}},
     "airflow_config['AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE']: set airflow_database_pool_size instead "
     "(the platform derives this setting from it)"),
    # A quota and a LimitRange that hold the platform's own pods and volumes, with the sum.
    ("quota-too-small-for-the-platform", "dev",
     platform(tenant_quota=dict(PLATFORM["tenant_quota"], **{"requests.cpu": "1"})),
     # postgres: the server 250m and its tls-reload sidecar 5m.
     "tenant_quota['requests.cpu']: 1 does not hold the platform's requests: postgres 255m + "
     "postgres-bootstrap 10m + airflow-api-server 100m + airflow-scheduler 100m + airflow-dag-processor 100m + "
     "airflow-triggerer 100m + airflow-worker 100m + airflow-migrate 100m + airflow-admin 100m + "
     "postgres-dump 100m + postgres-basebackup 100m + config-export 100m + "
     "a backup.yml/restore.yml/dr_drill.yml Job 100m = 1.365"),
    ("quota-too-few-pods", "prod",
     platform(airflow_replicas=REPLICAS_PROD, tenant_quota=dict(PLATFORM["tenant_quota"], pods="12")),
     # prod runs PgBouncer, two of them (edp_high_availability).
     "tenant_quota['pods']: 12 does not hold the platform's pods: postgres 1 + postgres-bootstrap 1 + "
     "pgbouncer 2 + airflow-api-server 2 + airflow-scheduler 2 + airflow-dag-processor 1 + airflow-triggerer 2 + "
     "airflow-worker 1 + airflow-migrate 1 + airflow-admin 1 + postgres-dump 1 + postgres-basebackup 1 + "
     "config-export 1 + a backup.yml/restore.yml/dr_drill.yml Job 1 = 18"),
    ("volumes-bigger-than-the-quota", "prod", platform(postgres_backup_storage_size="100Gi"),
     "tenant_quota['requests.storage']: 80Gi does not hold the platform's volumes: postgres_storage_size 5Gi + "
     "postgres_backup_storage_size 100Gi + airflow_dags_storage_size 1Gi + airflow_logs_storage_size 10Gi = 116Gi"),
    ("component-above-limit-range-max", "dev",
     platform(tenant_limit_range={"default": {"cpu": "500m", "memory": "512Mi"},
                                  "default_request": {"cpu": "100m", "memory": "256Mi"},
                                  "max": {"cpu": "2", "memory": "1Gi"}}),
     "tenant_limit_range.max['memory']: 1Gi is less than airflow_resources.api_server.limits.memory 2Gi: "
     "the API refuses its pods"),
    # Kept on the local target only: refused on Kubernetes rather than silently unused.
    ("airflow-roles-on-kubernetes", "dev",
     {"airflow_roles": [{"name": "Auditor", "permissions": [{"action": "can_read", "resource": "DAGs"}]}]},
     "airflow_roles: is set, but nothing would use it: the Kubernetes target does not keep Airflow's users and "
     "roles yet (the local target does); make them with the edp.platform.airflow_users and airflow_roles "
     "modules against the api-server"),
    # An empty storage class only where the inventory says the cluster default is meant.
    ("empty-storage-class-not-meant", "dev", {"edp_storage_class_default": False},
     "edp_storage_class: is required: name the StorageClass of the tenant's volumes, or set "
     "edp_storage_class_default: true if the cluster's default StorageClass is meant"),
    # Who logs in (airflow_auth): what the chosen way needs, before anything is written.
    ("unknown-auth", "dev", {"airflow_auth": "saml"},
     "airflow: value of airflow_auth must be one of: db, ldap, oidc, got: saml"),
    ("ldap-url-without-scheme", "dev", dict(LDAP, airflow_ldap_url="ldap.example.com"),
     "airflow_ldap_url: 'ldap.example.com' is not a URL such as ldaps://host[:port] or ldap://host[:port]"),
    ("ldap-in-clear-in-prod", "prod", dict(LDAP, airflow_ldap_url="ldap://ldap.example.com"),
     "airflow_ldap_url: 'ldap://ldap.example.com' is not a URL such as ldaps://host[:port]: staging and prod "
     "send no password in clear (use ldaps://, or set airflow_ldap_start_tls)"),
    ("ldap-bind-dn-not-a-dn", "dev", dict(LDAP, airflow_ldap_bind_dn="cn=airflow dc=example"),
     "airflow_ldap_bind_dn: 'cn=airflow dc=example' is not a distinguished name (attribute=value pairs joined "
     "by commas, such as cn=airflow,ou=services,dc=example,dc=com)"),
    ("ldap-bind-password-missing", "dev", dict(LDAP, airflow_ldap_bind_password=""),
     "airflow_ldap_bind_password: is required: set it in a vaulted variable (ansible-vault) or an AWX credential"),
    ("ldap-group-mapped-to-unknown-role", "dev",
     dict(LDAP, airflow_ldap_roles={"cn=airflow-ops,ou=groups,dc=example,dc=com": ["Operator"]}),
     "airflow_ldap_roles['cn=airflow-ops,ou=groups,dc=example,dc=com']: 'Operator' is not one of Airflow's "
     "roles (Admin, Op, User, Viewer, Public)"),
    ("oidc-issuer-in-clear-in-staging", "staging", dict(OIDC, airflow_oidc_issuer="http://idp.example.com"),
     "airflow_oidc_issuer: 'http://idp.example.com' is not a URL such as https://host[:port]: staging and "
     "prod send no secret in clear"),
    ("oidc-without-public-host", "dev", dict(OIDC, airflow_ingress_host=""),
     "airflow_ingress_host: is required: the provider sends users back to the api-server's public address "
     "(the Ingress or Route host)"),
    ("user-without-password-with-db-logins", "dev", {"airflow_users": [
        {"username": "jdoe", "email": "jdoe@example.com", "first_name": "J", "last_name": "Doe",
         "roles": ["Viewer"]}]},
     "airflow_users[0] (jdoe): needs a password (from the vault) when users log in with Airflow's own "
     "database (airflow_auth: db)"),
]


def validate_errors(run, host="finance"):
    """The errors the validate task returned for ``host``, in whichever play validated it
    (empty when it passed or did not run)."""
    for play in run.results:
        for task in play["tasks"]:
            if task["task"]["name"] == VALIDATE and host in task["hosts"]:
                return task["hosts"][host].get("errors") or []
    return []


def batch(case):
    """The run a case belongs to: its environment, and the roles of the run when the case
    chooses them (edp_roles is a play variable of site.yml, which host_vars cannot override:
    it is given to the whole run as an extra variable)."""
    _, environment, values, _ = case
    return environment, tuple(values.get("edp_roles", ()))


@pytest.fixture(scope="module")
def case_runs(tmp_path_factory):
    """run(case) -> (Run, writes) of site.yml over an inventory of the case's environment whose
    tenants are the cases of its batch, each case's values in host_vars/<case>.yml, against a
    fresh emulator. Each batch runs on first use and is kept for the module."""
    done = {}

    def run(case):
        key = batch(case)
        if key not in done:
            environment, roles = key
            folder = tmp_path_factory.mktemp("bad-inputs-" + environment)
            inventory = folder / "inventory"
            shutil.copytree(REPO / "inventories" / environment, inventory)
            cases = [c for c in CASES if batch(c) == key]
            shutil.rmtree(inventory / "host_vars", ignore_errors=True)
            (inventory / "host_vars").mkdir()
            for name, _, values, _ in cases:
                values = {k: v for k, v in values.items() if k != "edp_roles"}
                (inventory / "host_vars" / ("%s.yml" % name)).write_text(yaml.safe_dump(values))
            (inventory / "hosts.yml").write_text(yaml.safe_dump(
                {"all": {"children": {"tenants": {"hosts": {c[0]: None for c in cases}}}}}))
            real = os.environ.get("EDP_TEST_KUBECONFIG")
            cluster = RealCluster(real) if real else kubernetes_cluster().start()
            try:
                cluster.write_kubeconfig(str(folder / "kubeconfig"))
                result = Ansible(folder, folder / "kubeconfig").playbook(
                    "site.yml", str(inventory), extra_vars={"edp_roles": list(roles)} if roles else None)
                done[key] = (result, cluster.writes())
            finally:
                if not real:
                    cluster.stop()
        return done[key]

    return run


@pytest.mark.parametrize("case,inventory,values,expected", CASES, ids=[c[0] for c in CASES])
def test_bad_input_fails_before_any_write_naming_the_variable(case_runs, case, inventory, values, expected):
    run, writes = case_runs((case, inventory, values, expected))
    assert run.rc != 0, "site.yml accepted %s" % values
    assert expected in validate_errors(run, case), failure_messages(run)
    assert writes == [], "wrote before failing: %s" % writes


def test_each_case_fails_for_its_own_value_not_for_something_the_batch_shares(case_runs):
    """Every case's tenant has errors, and no message is common to all of them: a problem of the
    batched inventory itself (which would fail every tenant alike) would show here."""
    [first, *_] = [c for c in CASES if batch(c) == ("dev", ())]
    run, _ = case_runs(first)
    errors = {c[0]: validate_errors(run, c[0]) for c in CASES if batch(c) == batch(first)}
    assert all(len(e) >= 1 for e in errors.values()), [c for c, e in errors.items() if not e]
    common = set.intersection(*(set(e) for e in errors.values()))
    assert common == set(), "every case's tenant got %s" % common


def test_there_are_at_least_forty_cases_and_each_is_distinct():
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len(CASES) and len({c[3] for c in CASES}) == len(CASES)


def test_missing_vaulted_password_names_the_vault_variable(ansible, emulator):
    run = ansible.playbook("site.yml", "dev", vault=False)
    assert run.rc != 0
    for tenant in ("finance", "marketing"):
        assert validate_errors(run, tenant) == [
            "tenant_registry_password: 'vault_edp_registry_password' is undefined"], failure_messages(run)
    assert emulator.writes() == []


def test_one_bad_tenant_stops_every_tenant(ansible, emulator, tmp_path):
    inventory = tmp_path / "inventory"
    shutil.copytree(REPO / "inventories" / "dev", inventory)
    (inventory / "host_vars").mkdir(exist_ok=True)
    (inventory / "host_vars" / "marketing.yml").write_text("---\ntenant_quota:\n  pods: many\n")
    run = ansible.playbook("site.yml", str(inventory))
    assert run.rc != 0
    assert validate_errors(run, "marketing") == [
        "tenant_quota['pods']: 'many' is not a Kubernetes quantity (such as 500m, 2, 512Mi, 10Gi)"]
    assert emulator.writes() == [], "the good tenant was applied although another one is invalid"


@pytest.mark.parametrize("limit", [None, "finance", "marketing"])
def test_two_tenants_in_one_namespace_are_refused_before_any_write(ansible, emulator, tmp_path, limit):
    """Marketing's host_vars point it at finance's namespace: refused before any write, naming both
    tenants and the namespace, also when --limit leaves one of them out of the run."""
    inventory = tmp_path / "inventory"
    shutil.copytree(REPO / "inventories" / "dev", inventory)
    (inventory / "host_vars").mkdir(exist_ok=True)
    (inventory / "host_vars" / "marketing.yml").write_text("---\nedp_namespace: finance-dev\n")
    run = ansible.playbook("site.yml", str(inventory), *(["--limit", limit] if limit else []))
    assert run.rc != 0
    [result] = run.task_results(COLLISIONS).values()
    assert result["msg"] == ("tenants finance and marketing both resolve to the namespace finance-dev (edp_namespace): "
                             "give each its own edp_namespace (it defaults to <edp_tenant>-<edp_environment>)")
    assert emulator.writes() == []


def test_a_tenant_named_like_another_collides_through_the_default_namespace(ansible, emulator, tmp_path):
    """edp_tenant (not edp_namespace) makes two hosts one tenant: the edp role's default
    namespace, <edp_tenant>-<edp_environment>, is resolved per host."""
    inventory = tmp_path / "inventory"
    shutil.copytree(REPO / "inventories" / "dev", inventory)
    (inventory / "host_vars").mkdir(exist_ok=True)
    (inventory / "host_vars" / "marketing.yml").write_text("---\nedp_tenant: finance\n")
    run = ansible.playbook("site.yml", str(inventory))
    assert run.rc != 0
    [result] = run.task_results(COLLISIONS).values()
    assert result["msg"] == ("tenants finance and marketing both resolve to the namespace finance-dev (edp_namespace): "
                             "give each its own edp_namespace (it defaults to <edp_tenant>-<edp_environment>)")
    assert emulator.writes() == []


def test_deliberate_extra_variables_are_accepted(ansible_offline, tmp_path):
    """What edp_extra_variables lists (names or patterns) is not a typo; the rest still is."""
    run = ansible_offline.playbook(
        "site.yml", "dev", "--limit", "finance",
        extra_vars={"edp_render_dir": str(tmp_path / "render"), "edp_site_owner": "fin", "dr_site_note": "x",
                    "edp_extra_variables": ["edp_site_*", "dr_site_note"]})
    assert run.rc == 0, failure_messages(run)
    run = ansible_offline.playbook(
        "site.yml", "dev", "--limit", "finance",
        extra_vars={"edp_render_dir": str(tmp_path / "render"), "edp_site_owner": "fin",
                    "edp_extra_variables": ["dr_site_note"]})
    assert run.rc != 0
    assert validate_errors(run) == [
        "edp_site_owner: no role of edp.platform declares this variable (if it is meant, list it in edp_extra_variables)"]


def test_bad_local_root_fails_before_anything_is_created(ansible_offline, tmp_path):
    run = ansible_offline.playbook("site.yml", "local", extra_vars={"edp_local_root": "relative/dir"}, vault=False)
    assert run.rc != 0
    assert validate_errors(run, "demo") == ["edp_local_root: 'relative/dir' is not an absolute path"]
    assert not (REPO / "relative").exists()


def test_a_typo_in_the_local_inventory_fails_before_anything_is_created(ansible_offline, tmp_path):
    root = tmp_path / "edp"
    run = ansible_offline.playbook("site.yml", "local", extra_vars={"edp_local_root": str(root), "airflow_api_prot": 8081},
                                   vault=False)
    assert run.rc != 0
    assert validate_errors(run, "demo") == [
        "airflow_api_prot: no role of edp.platform declares this variable (did you mean airflow_api_port?)"]
    assert not root.exists()
