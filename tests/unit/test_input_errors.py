"""The input checks behind every role's validate.yml (plugins/filter/input_errors.py)."""

import pytest

from ansible_collections.edp.platform.plugins.filter.input_errors import input_errors


def errors(check, value, **extra):
    return input_errors([dict(name="var", value=value, check=check, **extra)])


@pytest.mark.parametrize("value", ["acme", "acme-prod", "a1", "x" * 63])
def test_dns1123_label_accepts_valid_names(value):
    assert errors("dns1123_label", value) == []


@pytest.mark.parametrize("value", ["Acme", "acme_prod", "-acme", "acme-", "x" * 64, "", "a.b", 7])
def test_dns1123_label_refuses_invalid_names(value):
    [message] = errors("dns1123_label", value)
    assert message.startswith("var: ") and "DNS-1123 label" in message


def test_dns1123_subdomain_allows_dots_but_not_uppercase():
    assert errors("dns1123_subdomain", "fast-ssd.example.com") == []
    assert "DNS-1123 subdomain" in errors("dns1123_subdomain", "Fast.SSD")[0]


@pytest.mark.parametrize("value", ["500m", "2", 2, "0.5", "512Mi", "10Gi", "1e3", "1.5G"])
def test_quantity_accepts_kubernetes_quantities(value):
    assert errors("quantity", value) == []


@pytest.mark.parametrize("value", ["2 cores", "10GB", "abc", "-1", "", True, None, "1e3Mi", "1.2.3", "1E3Gi", ".", "1e"])
def test_quantity_refuses_what_the_api_server_would(value):
    assert errors("quantity", value), value


def test_quantities_names_the_bad_key():
    [message] = errors("quantities", {"requests.cpu": "2", "limits.memory": "8 GB"})
    assert message == "var['limits.memory']: '8 GB' is not a Kubernetes quantity (such as 500m, 2, 512Mi, 10Gi)"


@pytest.mark.parametrize("value", [
    "registry.example.com/edp/airflow:3.3.2",
    "registry.example.com:5000/edp/airflow:3.3.2-edp.1",
    "postgres:15",
    "quay.io/x/y@sha256:" + "a" * 64,
])
def test_pinned_images_are_accepted(value):
    assert errors("image", value, pinned=True) == []


def test_latest_is_refused_only_where_pinned():
    assert errors("image", "registry.example.com/edp/airflow:latest") == []
    [message] = errors("image", "registry.example.com/edp/airflow:latest", pinned=True)
    assert "'latest'" in message


def test_untagged_image_is_refused_where_pinned():
    [message] = errors("images", {"airflow": "registry.example.com/edp/airflow"}, pinned=True)
    assert message.startswith("var['airflow']: ") and "no tag" in message


def test_malformed_image_is_refused_everywhere():
    assert "not an image reference" in errors("image", "Registry/Airflow::1")[0]


@pytest.mark.parametrize("value", [None, "", "   ", "changeme", "Password"])
def test_secret_must_be_present_and_not_a_placeholder(value):
    [message] = errors("secret", value)
    assert message.startswith("var: ")


def test_secret_messages_never_contain_the_value():
    [message] = errors("secret", "changeme")
    assert "changeme" not in message


def test_labels_check_names_and_values():
    assert errors("labels", {"cost-center": "fin-0815", "example.com/team": "data"}) == []
    assert "invalid value" in errors("labels", {"cost-center": "fin 0815"})[0]
    assert "invalid label name" in errors("labels", {"bad key!": "x"})[0]


def test_when_false_skips_a_check():
    assert input_errors([{"name": "x", "value": None, "check": "secret", "when": False}]) == []


def test_every_problem_is_reported_at_once():
    result = input_errors([
        {"name": "a", "value": "A", "check": "dns1123_label"},
        {"name": "b", "value": "1 GB", "check": "quantity"},
        {"name": "c", "value": "/ok", "check": "absolute_path"},
        {"name": "d", "value": "relative", "check": "absolute_path"},
    ])
    assert [m.split(":")[0] for m in result] == ["a", "b", "d"]


def test_unknown_check_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown check"):
        errors("nonsense", "x")


def test_pg_identifier_needs_no_quoting():
    assert errors("pg_identifier", "airflow_meta") == []
    for bad in ("Airflow", "air-flow", "1db", "x" * 64, 'a"; drop'):
        assert "not a plain PostgreSQL name" in errors("pg_identifier", bad)[0], bad


@pytest.mark.parametrize("value", ["15 1 * * *", "*/15 * * * *", "0 2 * * 0", "0 2 * * 7", "0 0 1-15/2 * mon-fri",
                                   "0,30 8-18 * jan,jul *", "@daily", "@hourly", "59 23 31 12 6"])
def test_cron_accepts_what_cronjobs_and_crontab_take(value):
    assert errors("cron", value) == []


@pytest.mark.parametrize("value, field", [("60 * * * *", "minute"), ("* 24 * * *", "hour"), ("* * 0 * *", "day of month"),
                                          ("* * * 13 *", "month"), ("* * * * 8", "day of week"),
                                          ("*/0 * * * *", "minute"), ("* * * foo *", "month"), ("1-x * * * *", "minute")])
def test_cron_names_the_bad_field(value, field):
    [message] = errors("cron", value)
    assert "the %s field" % field in message


@pytest.mark.parametrize("value", ["* * * *", "daily", "@sometimes", "", 5])
def test_cron_refuses_what_is_not_a_schedule(value):
    [message] = errors("cron", value)
    assert "cron schedule" in message


@pytest.mark.parametrize("value", ["14d", "26h", "1d12h", 3600, "90m"])
def test_duration_accepts_seconds_and_units(value):
    assert errors("duration", value) == []


@pytest.mark.parametrize("value", ["two weeks", "14x", "", True, None])
def test_duration_refuses_other_text(value):
    [message] = errors("duration", value)
    assert message.startswith("var: ") and ("duration such as 14d" in message or "is not set" in message)


@pytest.mark.parametrize("value, ok", [(1, True), (7, True), (0, False), (-1, False), ("7", False), (True, False)])
def test_positive_wants_a_whole_number_of_at_least_one(value, ok):
    assert (errors("positive", value) == []) is ok


def test_one_of_names_the_allowed_values_and_why():
    check = {"values": ["ReadWriteOnce", "ReadWriteMany"], "why": "the Jobs share it"}
    assert errors("one_of", "ReadWriteMany", **check) == []
    assert errors("one_of", "ReadWriteOncePod", **check) == [
        "var: 'ReadWriteOncePod' is not one of ReadWriteOnce, ReadWriteMany: the Jobs share it"]


# -- what a value means, not only its type -----------------------------------------------------

@pytest.mark.parametrize("value", ["-1", "-500m", -2])
def test_quantity_refuses_negatives_saying_so(value):
    assert errors("quantity", value) == ["var: %r is below zero" % (value,)]


@pytest.mark.parametrize("value", ["100n", "5u", "0", 0, "1Ei", ".5", "1E", "2.5e-3", "1E6", "3."])
def test_quantity_takes_what_the_apply_parser_takes(value):
    assert errors("quantity", value) == []


def test_quantity_and_the_apply_share_one_parser():
    from ansible_collections.edp.platform.plugins.module_utils import capacity
    from ansible_collections.edp.platform.plugins.module_utils.k8s_objects import parse_quantity
    for value in ("2", "500m", "1.5Gi", "1e3", "100n", "7", "8 GB", "-1", " 2"):
        parsed = parse_quantity(value)
        expected_ok = parsed is not None and parsed >= 0 and value == value.strip()
        assert (errors("quantity", value) == []) is expected_ok, value
        assert (capacity.quantity(value) is not None) is expected_ok, value


@pytest.mark.parametrize("value, ok", [("1Gi", True), ("0", False), ("0Gi", False), ("-1Gi", False), ("x", False)])
def test_size_is_a_quantity_above_zero(value, ok):
    assert (errors("size", value) == []) is ok


@pytest.mark.parametrize("value, ok", [(1, True), (5432, True), (65535, True), (0, False), (65536, False),
                                       (-1, False), ("5432", False), (True, False)])
def test_port(value, ok):
    assert (errors("port", value) == []) is ok


def test_port_message():
    assert errors("port", 70000) == ["var: 70000 is not a port (1-65535)"]


@pytest.mark.parametrize("value", ["admin@example.com", "a.b+tag@sub.example.co.uk", "ops_team@corp-mail.example"])
def test_email_accepts_addresses(value):
    assert errors("email", value) == []


@pytest.mark.parametrize("value", ["admin", "admin at example.com", "admin@localhost", "@example.com", "a@b@c.com",
                                   "a b@example.com", "admin@-example.com", 7])
def test_email_refuses_what_is_not_an_address(value):
    assert errors("email", value) == ["var: %r is not an e-mail address (such as name@example.com)" % (value,)]


@pytest.mark.parametrize("value", ["0", 0, "0d", "0h0m"])
def test_duration_must_be_above_zero(value):
    assert errors("duration", value) == ["var: %r is not a duration above zero" % (value,)]


def test_resources_checks_quantities_and_request_within_limit():
    good = {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    assert errors("resources", good) == []
    assert input_errors([{"name": "airflow_resources.scheduler", "check": "resources",
                          "value": {"requests": {"cpu": "3"}, "limits": {"cpu": "2"}}}]) == [
        "airflow_resources.scheduler.requests.cpu: 3 is more than its limit 2"]
    assert errors("resources", {"requests": {"memory": "2Gi"}, "limits": {"memory": "2048Mi"}}) == []
    assert errors("resources", {"requests": {"memory": "1 GB"}, "limits": {"memory": "-1"}}) == [
        "var.requests.memory: '1 GB' is not a Kubernetes quantity (such as 500m, 2, 512Mi, 10Gi)",
        "var.limits.memory: '-1' is below zero"]


def test_resources_refuses_unknown_keys_and_wrong_shapes():
    assert errors("resources", {"request": {"cpu": "1"}}) == ["var: has an unknown key 'request' (requests, limits)"]
    assert errors("resources", {"requests": "1"}) == [
        "var.requests: must be a mapping of resources (cpu, memory) to quantities"]
    assert errors("resources", "1") == ["var: must be a mapping with requests and limits"]
    assert errors("resources", None) == ["var: is not set"]


def test_limit_range_in_order():
    ok = {"default": {"cpu": "500m", "memory": "512Mi"}, "default_request": {"cpu": "100m", "memory": "256Mi"},
          "max": {"cpu": "2", "memory": "4Gi"}}
    assert input_errors([{"name": "lr", "check": "limit_range", "value": ok}]) == []
    bad = {"default": {"cpu": "500m", "memory": "8Gi"}, "default_request": {"cpu": "1", "memory": "256Mi"},
           "max": {"cpu": "2", "memory": "4Gi"}}
    assert input_errors([{"name": "lr", "check": "limit_range", "value": bad}]) == [
        "lr.default_request.cpu: 1 is more than lr.default.cpu 500m",
        "lr.default.memory: 8Gi is more than lr.max.memory 4Gi"]
    # A resource that default leaves out is compared with max.
    skip = {"default": {}, "default_request": {"cpu": "3"}, "max": {"cpu": "2"}}
    assert input_errors([{"name": "lr", "check": "limit_range", "value": skip}]) == [
        "lr.default_request.cpu: 3 is more than lr.max.cpu 2"]


def test_replicas_are_whole_numbers_of_at_least_zero_for_each_key():
    keys = ["api_server", "scheduler"]
    assert errors("replicas", {"api_server": 0, "scheduler": 2}, keys=keys) == []
    assert errors("replicas", {"api_server": -1, "scheduler": "2"}, keys=keys) == [
        "var.api_server: -1 is not a whole number of at least 0", "var.scheduler: '2' is not a whole number of at least 0"]
    assert errors("replicas", {"api_server": 1}, keys=keys) == ["var.scheduler: is not set"]


def test_known_keys_names_the_stranger_and_the_known():
    assert errors("known_keys", {"a": 1, "bee": 2}, keys=["a", "b"]) == ["var: has an unknown key 'bee' (a, b)"]


def test_without_keys_names_the_variable_to_set_instead():
    keys = {"AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "airflow_database_pool_size"}
    assert errors("without_keys", {"AIRFLOW__CORE__X": "1"}, keys=keys) == []
    assert errors("without_keys", {"AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "50"}, keys=keys) == [
        "var['AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE']: set airflow_database_pool_size instead "
        "(the platform derives this setting from it)"]


def test_at_least_with_why():
    assert errors("at_least", 2, min=2, why="HA") == []
    assert errors("at_least", 1, min=2, why="HA") == ["var: 1 is less than 2: HA"]
    assert errors("at_least", "two", min=2) == ["var: 'two' is not a whole number"]


def test_one_of_and_subset_of_take_values_from_another_variable():
    envs = ["local", "dev", "prod"]
    assert errors("one_of", "dev", values=envs) == []
    assert errors("one_of", "prodution", values=envs, why="add it") == [
        "var: 'prodution' is not one of local, dev, prod: add it"]
    assert errors("subset_of", ["prod"], values=envs) == []
    assert errors("subset_of", ["prod", "production"], values=envs) == [
        "var[1]: 'production' is not one of local, dev, prod"]


def test_equals_names_the_other_variable():
    assert errors("equals", 5432, other=5432, other_name="postgres_port") == []
    assert errors("equals", 5432, other=5433, other_name="postgres_port", why="the Service's port") == [
        "var: 5432 is not postgres_port 5433: the Service's port"]


def test_greater_than_names_the_other_variable_and_refuses_equal():
    assert errors("greater_than", 365, other=30, other_name="postgres_tls_renew_days") == []
    assert errors("greater_than", 30, other=30, other_name="postgres_tls_renew_days", why="renewed") == [
        "var: 30 is not more than postgres_tls_renew_days (30): renewed"]
    assert errors("greater_than", "365", other=30, other_name="postgres_tls_renew_days") == [
        "var: '365' is not a whole number"]


def test_required_says_why():
    assert errors("required", "", why="name one") == ["var: is required: name one"]


def test_connections_message_carries_the_arithmetic():
    check = dict(replicas={"api_server": 1, "scheduler": 1, "dag_processor": 1, "triggerer": 1},
                 pool_size=5, max_overflow=10)
    assert errors("connections", 71, **check) == []
    [message] = errors("connections", 70, **check)
    assert message == (
        "var: 70 is fewer than the 71 connections the platform may open: api_server 1 × (5 + 10) = 15 + "
        "scheduler 1 × (5 + 10) = 15 + dag_processor 1 × (5 + 10) = 15 + triggerer 1 × (5 + 10) = 15 + "
        "airflow migrate job 2 + airflow admin job 1 + postgres bootstrap job 1 + backup dump 2 + "
        "backup drill or restore 1 + base backup 1 + superuser_reserved_connections 3 = 71")


def test_connections_reads_string_settings_and_the_local_target():
    check = dict(replicas={"api_server": 3, "scheduler": 3, "dag_processor": 3, "triggerer": 3},
                 pool_size=5, max_overflow=10, api_workers="2", reserved="5")
    assert "api_server 3 × 2 workers × (5 + 10) = 90" in errors("connections", 100, **check)[0]
    assert "superuser_reserved_connections 5 = " in errors("connections", 100, **check)[0]
    # One of each component on the local target, whatever the replicas say.
    assert errors("connections", 88, target="local", **check) == []
    assert errors("connections", 87, target="local", **check)


def test_quota_and_limit_range_max_through_the_filter():
    pods = [{"name": "db", "containers": [{"name": "db_resources", "resources": {
        "requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}}}]}]
    assert errors("quota", {"requests.cpu": "1", "pods": "1"}, pods=pods, volumes=[]) == []
    assert errors("quota", {"limits.cpu": "1"}, pods=pods, volumes=[]) == [
        "var['limits.cpu']: 1 does not hold the platform's limits: db 2 = 2"]
    assert errors("limit_range_max", {"memory": "1Gi"}, pods=pods) == [
        "var['memory']: 1Gi is less than db_resources.limits.memory 2Gi: the API refuses its pods"]


# -- who logs in to Airflow (airflow_auth) -------------------------------------------------------

@pytest.mark.parametrize("value", ["cn=airflow,ou=services,dc=example,dc=com", "uid=j\\,doe,dc=example",
                                   "cn=J Doe+uid=jdoe,dc=example", "2.5.4.3=x,dc=example", "cn=a\\3Db,dc=x"])
def test_ldap_dn_accepts_distinguished_names(value):
    assert errors("ldap_dn", value) == []


@pytest.mark.parametrize("value", ["cn=admin dc=example", "admin", "cn=,dc=x", "=x,dc=y", "cn=a,,dc=b",
                                   "cn=a=b,dc=x", "cn=a;b", "", None, 7])
def test_ldap_dn_refuses_what_is_no_distinguished_name(value):
    assert errors("ldap_dn", value) == (["var: is not set"] if value is None else [
        "var: %r is not a distinguished name (attribute=value pairs joined by commas, such as "
        "cn=airflow,ou=services,dc=example,dc=com)" % (value,)])


@pytest.mark.parametrize("value", ["(objectClass=person)", "(&(objectClass=person)(memberOf=cn=x,dc=y))"])
def test_ldap_filter_accepts_balanced_filters(value):
    assert errors("ldap_filter", value) == []


@pytest.mark.parametrize("value", ["objectClass=person", "(objectClass=person", ")(", "()"])
def test_ldap_filter_refuses_unbalanced_ones(value):
    assert errors("ldap_filter", value) == [
        "var: %r is not an LDAP filter (one in balanced parentheses, such as (objectClass=inetOrgPerson))" % value]


def test_url_names_the_schemes_it_takes_and_why():
    assert errors("url", "ldaps://ldap.example.com:636", schemes=["ldaps", "ldap"]) == []
    assert errors("url", "ldap.example.com", schemes=["ldaps", "ldap"]) == [
        "var: 'ldap.example.com' is not a URL such as ldaps://host[:port] or ldap://host[:port]"]
    assert errors("url", "ldap://ldap.example.com", schemes=["ldaps"], why="staging and prod send no password "
                  "in clear") == ["var: 'ldap://ldap.example.com' is not a URL such as ldaps://host[:port]: staging "
                                  "and prod send no password in clear"]
    assert errors("url", "https://idp.example.com:99999", schemes=["https"]) == [
        "var: 'https://idp.example.com:99999' is not a URL such as https://host[:port]"]


def test_pem_certificate_refuses_anything_else():
    assert errors("pem_certificate", "not a certificate") == [
        "var: is not a PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)"]


def test_role_map_names_the_unknown_role_and_the_bad_group():
    known = ["Admin", "Op", "User", "Viewer", "Public", "Auditor"]
    assert errors("role_map", {"cn=ops,dc=example": ["Op"], "cn=audit,dc=example": ["Auditor"]},
                  roles=known, dn_keys=True) == []
    assert errors("role_map", {"cn=ops,dc=example": ["Opp"], "ops": ["Viewer"]}, roles=known, dn_keys=True) == [
        "var['cn=ops,dc=example']: 'Opp' is not one of Airflow's roles (Admin, Op, User, Viewer, Public, Auditor)",
        "var['ops']: 'ops' is not a distinguished name (attribute=value pairs joined by commas, such as "
        "cn=airflow,ou=services,dc=example,dc=com)"]
    assert errors("role_map", {}, roles=known) == ["var: must map at least one claim value to its Airflow roles"]
    assert errors("role_map", {"ops": []}, roles=known) == ["var['ops']: must be a list of role names (at least one)"]


def test_empty_says_why_a_value_would_be_unused():
    assert errors("empty", [], why="x") == [] and errors("empty", None) == []
    assert errors("empty", [{"username": "jdoe"}], why="the reason") == [
        "var: is set, but nothing would use it: the reason"]


def test_contains_says_what_is_missing():
    assert errors("contains", ["email"], item="openid", why="OpenID Connect needs the openid scope") == [
        "var: lacks 'openid' (it is ['email']): OpenID Connect needs the openid scope"]


def test_airflow_users_each_problem_names_the_user():
    known = ["Admin", "Viewer"]
    user = {"username": "jdoe", "email": "jdoe@example.com", "first_name": "J", "last_name": "Doe",
            "roles": ["Viewer"], "password": "a-real-secret"}
    assert errors("airflow_users", [user], roles=known, admin="admin", auth="db") == []
    directory_user = {k: v for k, v in user.items() if k != "password"}
    assert errors("airflow_users", [directory_user], roles=known, admin="admin", auth="ldap") == []
    assert errors("airflow_users", [directory_user, dict(user, roles=["Op"]), dict(user, username="admin"),
                                    dict(user, username="x", password="changeme")],
                  roles=known, admin="admin", auth="db") == [
        "var[0] (jdoe): needs a password (from the vault) when users log in with Airflow's own database "
        "(airflow_auth: db)",
        "var[1] (jdoe): is listed twice",
        "var[1] (jdoe).roles: 'Op' is not one of Airflow's roles (Admin, Viewer)",
        "var[2] (admin): is the admin (airflow_admin_username), which the role keeps apart",
        "var[3] (x).password: is a placeholder, not a secret: set the real value in a vaulted variable"]


def test_airflow_roles_refuses_airflows_own_and_roles_without_permissions():
    builtin = ["Admin", "Op", "User", "Viewer", "Public"]
    good = {"name": "Auditor", "permissions": [{"action": "can_read", "resource": "DAGs"}]}
    assert errors("airflow_roles", [good], builtin=builtin) == []
    assert errors("airflow_roles", [{"name": "Viewer", "permissions": good["permissions"]}, {"name": "Empty"}],
                  builtin=builtin) == [
        "var[0] (Viewer): is one of Airflow's own roles (Admin, Op, User, Viewer, Public), which it keeps itself",
        "var[1] (Empty).permissions: must be a list of {action, resource} (such as {action: can_read, "
        "resource: DAGs})"]
