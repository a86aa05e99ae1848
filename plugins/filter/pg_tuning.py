# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""PostgreSQL settings derived from the memory and CPU a server may use."""

from __future__ import annotations

import math

from ansible.errors import AnsibleFilterError

from ansible_collections.edp.platform.plugins.module_utils.capacity import pgbouncer_pool_left
from ansible_collections.edp.platform.plugins.module_utils.k8s_objects import parse_quantity

DOCUMENTATION = r"""
name: pg_tuning
short_description: PostgreSQL memory, connection, WAL and planner settings for a memory and CPU limit
version_added: 0.1.0
description:
  - Derives the settings a DBA sets first from the container's memory and CPU limits (Kubernetes
    quantities), with the rules of thumb of the PostgreSQL wiki and pgtune for a mixed workload
    on SSD storage - C(shared_buffers) a quarter of memory, C(effective_cache_size) three
    quarters, C(work_mem) what is left after shared buffers shared by three sorts per connection,
    C(maintenance_work_mem) a sixteenth (at most 2GB), WAL sized with memory, parallel workers
    from CPUs.
  - Memory values are whole megabytes (C(NNNMB)), as C(SHOW) prints them back.
  - The postgres role merges C(postgres_settings) over the result, so every value can be
    overridden from the inventory.
options:
  _input:
    description: The memory limit, a Kubernetes quantity such as C(2Gi).
    type: raw
    required: true
  cpu:
    description: The CPU limit, a Kubernetes quantity such as C(2) or C(1500m).
    type: raw
    required: true
  max_connections:
    description: Connections to plan memory for.
    type: int
    default: 100
"""

EXAMPLES = r"""
postgres_tuned: "{{ postgres_resources.limits.memory | edp.platform.pg_tuning(cpu=postgres_resources.limits.cpu) }}"
# 2Gi, 2 CPUs -> {shared_buffers: 512MB, effective_cache_size: 1536MB, work_mem: 5MB, ...}
"""

RETURN = r"""
_value:
  description: Setting name to value, as strings ready for postgresql.conf.
  type: dict
"""

MB = 1024 * 1024


def _mb(value):
    return "%dMB" % max(1, int(value))


def pg_tuning(memory, cpu, max_connections=100):
    """Settings for a server limited to ``memory`` bytes-quantity and ``cpu`` CPUs."""
    mem_bytes = parse_quantity(memory)
    cpus = parse_quantity(cpu)
    if mem_bytes is None or mem_bytes < 256 * MB:
        raise AnsibleFilterError("pg_tuning: memory %r is not a quantity of at least 256Mi" % (memory,))
    if cpus is None or cpus <= 0:
        raise AnsibleFilterError("pg_tuning: cpu %r is not a positive quantity" % (cpu,))
    if int(max_connections) < 1:
        raise AnsibleFilterError("pg_tuning: max_connections must be at least 1")
    mem_mb = int(mem_bytes) // MB
    cores = max(1, math.ceil(cpus))
    shared_buffers = mem_mb // 4
    work_mem = max(4, (mem_mb - shared_buffers) // (int(max_connections) * 3))
    small = mem_mb < 2048
    return {
        "max_connections": str(int(max_connections)),
        "shared_buffers": _mb(shared_buffers),
        "effective_cache_size": _mb(mem_mb * 3 // 4),
        "work_mem": _mb(work_mem),
        "maintenance_work_mem": _mb(min(2048, max(16, mem_mb // 16))),
        "wal_buffers": _mb(min(16, max(1, shared_buffers * 3 // 100))),
        "min_wal_size": "256MB" if small else "1024MB",
        "max_wal_size": "1024MB" if small else "4096MB",
        "checkpoint_completion_target": "0.9",
        "random_page_cost": "1.1",
        "effective_io_concurrency": "200",
        "max_worker_processes": str(max(8, cores)),
        "max_parallel_workers": str(cores),
        "max_parallel_workers_per_gather": str(max(1, cores // 2)),
        "max_parallel_maintenance_workers": str(max(1, cores // 2)),
    }


class FilterModule:
    def filters(self):
        return {"pg_tuning": pg_tuning, "pgbouncer_pool_left": pgbouncer_pool_left}
