"""PostgreSQL tuning rules (plugins/filter/pg_tuning.py)."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.edp.platform.plugins.filter.pg_tuning import pg_tuning


def mb(value):
    assert value.endswith("MB"), value
    return int(value[:-2])


def test_two_gigabytes_and_two_cpus():
    tuned = pg_tuning("2Gi", "2")
    assert tuned["shared_buffers"] == "512MB"
    assert tuned["effective_cache_size"] == "1536MB"
    assert tuned["maintenance_work_mem"] == "128MB"
    assert tuned["work_mem"] == "5MB"  # (2048 - 512) / (100 * 3)
    assert tuned["wal_buffers"] == "15MB"
    assert tuned["max_parallel_workers"] == "2" and tuned["max_parallel_workers_per_gather"] == "1"


@pytest.mark.parametrize("memory", ["512Mi", "1Gi", "4Gi", "16Gi", "64Gi"])
def test_memory_settings_keep_their_proportions(memory):
    tuned = pg_tuning(memory, "4")
    total = {"512Mi": 512, "1Gi": 1024, "4Gi": 4096, "16Gi": 16384, "64Gi": 65536}[memory]
    assert mb(tuned["shared_buffers"]) == total // 4
    assert mb(tuned["effective_cache_size"]) == total * 3 // 4
    assert mb(tuned["maintenance_work_mem"]) <= 2048
    # what every connection may sort with, plus shared buffers, fits in the limit
    # (below 1Gi the 4MB floor of work_mem wins: see the next test)
    if total >= 1024:
        assert mb(tuned["shared_buffers"]) + int(tuned["max_connections"]) * mb(tuned["work_mem"]) <= total


def test_work_mem_never_drops_below_four_megabytes():
    assert pg_tuning("512Mi", "1", max_connections=500)["work_mem"] == "4MB"


def test_more_connections_mean_less_work_mem_each():
    assert mb(pg_tuning("8Gi", "2", 50)["work_mem"]) > mb(pg_tuning("8Gi", "2", 400)["work_mem"])


def test_fractional_cpu_rounds_up_to_one_worker():
    tuned = pg_tuning("1Gi", "500m")
    assert tuned["max_parallel_workers"] == "1" and tuned["max_worker_processes"] == "8"


def test_wal_grows_with_memory():
    assert pg_tuning("1Gi", "1")["max_wal_size"] == "1024MB"
    assert pg_tuning("8Gi", "1")["max_wal_size"] == "4096MB"


@pytest.mark.parametrize("memory,cpu,message", [
    ("lots", "1", "memory 'lots'"),
    ("128Mi", "1", "at least 256Mi"),
    ("1Gi", "0", "cpu '0'"),
])
def test_bad_limits_are_refused_with_the_value(memory, cpu, message):
    with pytest.raises(AnsibleFilterError, match=message):
        pg_tuning(memory, cpu)


def test_pg_conf_quotes_values_and_sorts_names():
    from ansible_collections.edp.platform.plugins.filter.pg_conf import pg_conf

    text = pg_conf({"shared_buffers": "512MB", "archive_mode": True, "archive_command": "cp %p '/b/%f'"})
    assert text.splitlines()[1:] == [
        "archive_command = 'cp %p ''/b/%f'''", "archive_mode = 'on'", "shared_buffers = '512MB'"]


def test_pg_conf_refuses_a_name_that_would_inject_a_line():
    from ansible_collections.edp.platform.plugins.filter.pg_conf import pg_conf

    with pytest.raises(AnsibleFilterError, match="not a PostgreSQL setting name"):
        pg_conf({"work_mem = '1GB'\nfsync": "off"})
