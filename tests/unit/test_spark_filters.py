"""The spark role's filters (plugins/filter/spark.py) and its spark_conf check through input_errors."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.edp.platform.plugins.filter.input_errors import input_errors
from ansible_collections.edp.platform.plugins.filter.spark import (
    spark_conf_owned, spark_cores, spark_defaults_conf, spark_memory, spark_pod_resources)


@pytest.mark.parametrize("quantity,spark", [("1Gi", "1024m"), ("1536Mi", "1536m"), ("384Mi", "384m"),
                                            ("1G", "954m"), (2 ** 30, "1024m"), ("0", "0m")])
def test_memory_in_mib_rounded_up(quantity, spark):
    assert spark_memory(quantity) == spark


@pytest.mark.parametrize("bad", ["lots", "-1Gi", "1 Gi", None])
def test_memory_that_is_no_quantity_is_refused(bad):
    with pytest.raises(AnsibleFilterError, match="not a Kubernetes quantity"):
        spark_memory(bad)


@pytest.mark.parametrize("cpu,cores", [("250m", 1), ("1", 1), (1, 1), ("1.5", 2), ("2", 2), ("4", 4)])
def test_cores_are_whole_and_at_least_one(cpu, cores):
    assert spark_cores(cpu) == cores


def test_pod_resources_are_what_spark_asks_for():
    assert spark_pod_resources({"cores": "250m", "memory": "512Mi", "memory_overhead": "384Mi"}) == {
        "requests": {"cpu": "250m", "memory": "896Mi"}, "limits": {"cpu": "1", "memory": "896Mi"}}
    assert spark_pod_resources({"cores": "2", "memory": "4Gi", "memory_overhead": "1Gi"}) == {
        "requests": {"cpu": "2", "memory": "5Gi"}, "limits": {"cpu": "2", "memory": "5Gi"}}


@pytest.mark.parametrize("spec", [{"cores": "x", "memory": "1Gi", "memory_overhead": "1Gi"},
                                  {"memory": "1Gi", "memory_overhead": "1Gi"}, "1Gi", None])
def test_pod_resources_of_bad_input_are_empty_for_the_checks_to_report(spec):
    assert spark_pod_resources(spec) == {}


OWNED = {"spark.kubernetes.namespace": "edp_namespace",
         "spark.kubernetes.authenticate.": "spark_rbac_driver_service_account"}


def test_owned_keys_match_exactly_or_by_prefix():
    conf = {"spark.kubernetes.namespace": "x", "spark.kubernetes.namespaceX": "y",
            "spark.kubernetes.authenticate.driver.oauthToken": "t", "spark.sql.shuffle.partitions": "8"}
    assert spark_conf_owned(conf, OWNED) == {"spark.kubernetes.namespace": "edp_namespace",
                                             "spark.kubernetes.authenticate.driver.oauthToken":
                                                 "spark_rbac_driver_service_account"}
    assert spark_conf_owned("not a mapping", OWNED) == {}


def test_the_validation_names_the_variable_to_set_instead():
    conf = {"spark.kubernetes.namespace": "x", "spark.sql.shuffle.partitions": "8"}
    checks = [{"name": "spark_conf", "value": conf, "check": "without_keys", "keys": spark_conf_owned(conf, OWNED)}]
    assert input_errors(checks) == ["spark_conf['spark.kubernetes.namespace']: set edp_namespace instead "
                                    "(the platform derives this setting from it)"]


def test_defaults_conf_is_sorted_key_value_lines():
    text = spark_defaults_conf({"spark.b": True, "spark.a": 1, "spark.c": "C:\\dir"})
    assert text.splitlines()[1:] == ["spark.a 1", "spark.b true", "spark.c C:\\\\dir"]
    assert text.startswith("# Managed by edp.platform") and text.endswith("\n")


@pytest.mark.parametrize("settings", [{"spark.a": "one\ntwo"}, {"spark a": "x"}, {"": "x"}, ["spark.a"]])
def test_defaults_conf_refuses_what_a_properties_file_cannot_hold(settings):
    with pytest.raises(AnsibleFilterError):
        spark_defaults_conf(settings)
