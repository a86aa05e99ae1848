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


@pytest.mark.parametrize("value", ["2 cores", "10GB", "abc", "-1", "", True, None])
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
