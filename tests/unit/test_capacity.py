"""The arithmetic behind the quota, LimitRange and max_connections checks (module_utils/capacity.py)."""

from decimal import Decimal

import pytest

from ansible_collections.edp.platform.plugins.module_utils import capacity


def container(name, requests=None, limits=None):
    resources = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": name, "resources": resources}


@pytest.mark.parametrize("value, text, resource", [
    (Decimal("0.25"), "250m", "cpu"), (Decimal("2"), "2", "cpu"), (Decimal("23.1"), "23.1", "cpu"),
    (Decimal("0"), "0", "cpu"), (Decimal(2 ** 30), "1Gi", "memory"), (Decimal(6176 * 2 ** 20), "6176Mi", "memory"),
    (Decimal(1325 * 2 ** 30), "1325Gi", "memory"), (Decimal(1000), "1000", "memory"),
])
def test_format_quantity(value, text, resource):
    assert capacity.format_quantity(value, resource) == text


def test_a_limit_alone_is_also_the_request_and_the_limit_range_fills_the_rest():
    lr = {"default": {"cpu": "500m", "memory": "512Mi"}, "default_request": {"cpu": "100m", "memory": "256Mi"}}
    got = capacity.container_resources(container("c", limits={"cpu": "1"}), lr)
    assert got == {"requests": {"cpu": Decimal(1), "memory": Decimal(256 * 2 ** 20)},
                   "limits": {"cpu": Decimal(1), "memory": Decimal(512 * 2 ** 20)}}
    assert capacity.container_resources(container("c"), {}) == {"requests": {}, "limits": {}}


def test_a_pod_counts_the_larger_of_its_containers_and_its_largest_init_container():
    pod = {"name": "p", "containers": [container("a", {"cpu": "100m"}, {"cpu": "500m"}),
                                       container("b", {"cpu": "10m"}, {"cpu": "100m"})],
           "init_containers": [container("i", {"cpu": "100m"}, {"cpu": "1"})]}
    got = capacity.pod_resources(pod)
    assert got["requests"]["cpu"] == Decimal("0.11")  # the containers' sum
    assert got["limits"]["cpu"] == Decimal("1")  # the init container's


def pods():
    return [
        {"name": "db", "containers": [container("db_res", {"cpu": "1", "memory": "1Gi"}, {"cpu": "2", "memory": "2Gi"})]},
        {"name": "web", "replicas": 2,
         "containers": [container("web_res", {"cpu": "250m", "memory": "512Mi"}, {"cpu": "1", "memory": "1Gi"})]},
        {"name": "off", "replicas": 0, "containers": [container("off_res", {"cpu": "8"}, {"cpu": "8"})]},
    ]


def test_quota_that_holds_the_platform_says_nothing():
    quota = {"requests.cpu": "1500m", "requests.memory": "2Gi", "limits.cpu": "4", "limits.memory": "4Gi",
             "pods": "3", "requests.storage": "30Gi", "persistentvolumeclaims": "2", "count/secrets": "1"}
    volumes = [{"name": "data_size", "size": "10Gi"}, {"name": "backup_size", "size": "20Gi"}]
    assert capacity.quota_problems(quota, pods(), volumes) == []


def test_quota_sums_replicas_times_each_pod_with_the_sum_in_the_message():
    assert capacity.quota_problems({"requests.cpu": "1"}, pods()) == [
        "['requests.cpu']: 1 does not hold the platform's requests: db 1 + web 2 × 250m = 1.5"]
    assert capacity.quota_problems({"memory": "1Gi"}, pods()) == [
        "['memory']: 1Gi does not hold the platform's requests: db 1Gi + web 2 × 512Mi = 2Gi"]
    assert capacity.quota_problems({"limits.memory": "3Gi"}, pods()) == [
        "['limits.memory']: 3Gi does not hold the platform's limits: db 2Gi + web 2 × 1Gi = 4Gi"]


def test_quota_counts_pods_and_volumes():
    volumes = [{"name": "data_size", "size": "10Gi"}, {"name": "backup_size", "size": "20Gi"}]
    assert capacity.quota_problems({"pods": "2", "requests.storage": "25Gi", "persistentvolumeclaims": "1"},
                                   pods(), volumes) == [
        "['pods']: 2 does not hold the platform's pods: db 1 + web 2 = 3",
        "['requests.storage']: 25Gi does not hold the platform's volumes: data_size 10Gi + backup_size 20Gi = 30Gi",
        "['persistentvolumeclaims']: 1 does not hold the platform's 2 PersistentVolumeClaims (data_size, backup_size)"]


def test_quota_on_a_resource_nothing_sets_and_no_default_gives():
    quota = {"limits.ephemeral-storage": "10Gi"}
    assert capacity.quota_problems(quota, pods()) == [
        "['limits.ephemeral-storage']: the API refuses pods under this quota whose containers set no "
        "ephemeral-storage limit, and these set none (nor does tenant_limit_range give a default): db_res, web_res"]
    limit_range = {"default": {"ephemeral-storage": "1Gi"}}
    assert capacity.quota_problems(quota, pods(), limit_range=limit_range) == []


def test_quota_leaves_what_is_not_a_quantity_to_the_other_checks():
    assert capacity.quota_problems({"requests.cpu": "lots"}, pods()) == []
    assert capacity.quota_problems("lots", pods()) == []
    broken = [{"name": "x", "replicas": "two", "containers": [container("x", {"cpu": "9"})]}]
    assert capacity.quota_problems({"requests.cpu": "1"}, broken) == []


def test_limit_range_max_names_the_container_that_asks_for_more():
    assert capacity.limit_range_problems({"cpu": "2", "memory": "2Gi"}, pods()) == []
    assert capacity.limit_range_problems({"memory": "1Gi"}, pods()) == [
        "['memory']: 1Gi is less than db_res.limits.memory 2Gi: the API refuses its pods"]
    # No limit and no default under a max: refused too.
    nolimit = [{"name": "n", "containers": [container("n_res", {"cpu": "1"})]}]
    assert capacity.limit_range_problems({"memory": "1Gi"}, nolimit) == [
        "['memory']: n_res sets no memory limit, which the API requires under a LimitRange max"]
    assert capacity.limit_range_problems({"memory": "1Gi"}, nolimit, {"default": {"memory": "512Mi"}}) == []


def test_pg_connections_is_replicas_times_pool_plus_overflow_plus_the_rest():
    total, terms = capacity.pg_connections({"api_server": 2, "scheduler": 2, "dag_processor": 1, "triggerer": 2}, 5, 10)
    assert total == 7 * 15 + 2 + 1 + 1 + 2 + 1 + 1 + 3 == 116
    assert terms[0] == ("api_server", 30, "2 × (5 + 10)")
    assert terms[-1] == ("superuser_reserved_connections", 3, "3")


def test_pg_connections_counts_api_server_workers_and_skips_stopped_components():
    total, terms = capacity.pg_connections({"api_server": 2, "scheduler": 0, "dag_processor": 1, "triggerer": 1},
                                           5, 5, api_workers=3)
    assert ("api_server", 60, "2 × 3 workers × (5 + 5)") in terms
    assert not [t for t in terms if t[0] == "scheduler"]
    assert total == 60 + 10 + 10 + 11


def test_pg_connections_on_the_local_target_runs_each_component_once():
    total, _ = capacity.pg_connections({"api_server": 5, "scheduler": 5}, 5, 10, local=True)
    assert total == 4 * 15 + 11


def test_connections_problem_only_when_too_few_and_only_for_valid_numbers():
    replicas = {"api_server": 1, "scheduler": 1, "dag_processor": 1, "triggerer": 1}
    assert capacity.connections_problem(71, replicas, 5, 10) is None
    assert capacity.connections_problem(70, replicas, 5, 10).startswith("70 is fewer than the 71 connections")
    assert capacity.connections_problem("70", replicas, 5, 10) is None
    assert capacity.connections_problem(70, "lots", 5, 10) is None


def test_pgbouncer_pool_left_is_max_connections_less_the_direct_clients_and_the_reserve():
    direct = 2 + 1 + 1 + 2 + 1 + 1  # the Jobs and the backups (OTHER_CONNECTIONS)
    assert capacity.pgbouncer_pool_left(100) == 100 - direct - 3 == 89
    assert capacity.pgbouncer_pool_left(100, reserved=10) == 100 - direct - 10
    assert capacity.pgbouncer_pool_left(10) == -1  # nothing left: every pool is refused


def test_pgbouncer_pool_problem_only_for_a_pool_larger_than_what_is_left():
    assert capacity.pgbouncer_pool_problem(89, 100) is None
    assert capacity.pgbouncer_pool_problem(1, 100) is None
    assert capacity.pgbouncer_pool_problem(90, 100) == (
        "90 is more than the 89 server connections postgres_max_connections 100 leaves for it: 100 - "
        "airflow migrate job 2 - airflow admin job 1 - postgres bootstrap job 1 - backup dump 2 - "
        "backup drill or restore 1 - base backup 1 - superuser_reserved_connections 3 = 89")
    assert capacity.pgbouncer_pool_problem(85, 100, reserved=10).startswith("85 is more than the 82 server")
    # A wrong type is the argument spec's to report.
    for args in [("90", 100), (90, "100"), (True, 100), (90, 100.0)]:
        assert capacity.pgbouncer_pool_problem(*args) is None


def test_pgbouncer_clients_count_airflow_pools_only():
    replicas = {"api_server": 2, "scheduler": 2, "dag_processor": 1, "triggerer": 2}
    total, terms = capacity.pg_connections(replicas, 5, 10, clients_only=True)
    assert total == 7 * 15 and [t[0] for t in terms] == ["api_server", "scheduler", "dag_processor", "triggerer"]
    assert capacity.connections_problem(105, replicas, 5, 10, clients_only=True) is None
    assert capacity.connections_problem(104, replicas, 5, 10, clients_only=True) == (
        "104 is fewer than the 105 connections Airflow's components may open: api_server 2 × (5 + 10) = 30 + "
        "scheduler 2 × (5 + 10) = 30 + dag_processor 1 × (5 + 10) = 15 + triggerer 2 × (5 + 10) = 30 = 105")


def test_every_pgbouncer_replica_holds_a_pool_of_its_own():
    assert capacity.pgbouncer_pool_problem(44, 100, replicas=2) is None  # 88 of 89
    assert capacity.pgbouncer_pool_problem(45, 100, replicas=2) == (
        "45 × 2 PgBouncers = 90 is more than the 89 server connections postgres_max_connections 100 leaves for it: "
        "100 - airflow migrate job 2 - airflow admin job 1 - postgres bootstrap job 1 - backup dump 2 - "
        "backup drill or restore 1 - base backup 1 - superuser_reserved_connections 3 = 89")
