# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""What the platform asks of a tenant's quota and of its PostgreSQL server, as pure functions.

The validate action feeds them the inventory's values (input_errors checks ``quota``,
``limit_range_max`` and ``connections``); nothing here reads a file or talks to a cluster,
so the arithmetic is unit-tested (tests/unit/test_capacity.py).

A pod is a mapping: ``name``, ``replicas`` (how many can run at once), ``containers`` and
``init_containers`` - each a mapping ``{name, resources: {requests: {...}, limits: {...}}}``.
A volume is ``{name, size}``.
"""

from __future__ import annotations

from decimal import Decimal

from ansible_collections.edp.platform.plugins.module_utils.k8s_objects import parse_quantity

# Airflow components that hold a SQLAlchemy pool of their own (per replica, per process).
POOLED_COMPONENTS = ("api_server", "scheduler", "dag_processor", "triggerer")
# Connections opened besides the components' pools, at most, each at once (README of the
# postgres role): the Airflow Jobs (`airflow db migrate` holds its lock in one session and
# migrates in another; `airflow users create` one), the postgres bootstrap Job (psql), and
# edp-backup.sh (a dump: the session that exports the snapshot and counts rows, and pg_dump;
# a drill or restore: psql, then pg_restore; a base backup: pg_basebackup's connection).
OTHER_CONNECTIONS = (
    ("airflow migrate job", 2),
    ("airflow admin job", 1),
    ("postgres bootstrap job", 1),
    ("backup dump", 2),
    ("backup drill or restore", 1),
    ("base backup", 1),
)
# PostgreSQL keeps these for superusers out of max_connections (its default).
SUPERUSER_RESERVED_CONNECTIONS = 3

# ResourceQuota keys counted against the containers' resources: key -> (requests|limits, resource).
_COMPUTE = ("cpu", "memory", "ephemeral-storage")
QUOTA_COMPUTE_KEYS = {}
for _resource in _COMPUTE:
    QUOTA_COMPUTE_KEYS[_resource] = ("requests", _resource)
    QUOTA_COMPUTE_KEYS["requests." + _resource] = ("requests", _resource)
    QUOTA_COMPUTE_KEYS["limits." + _resource] = ("limits", _resource)

_BINARY = (("Ei", 2 ** 60), ("Pi", 2 ** 50), ("Ti", 2 ** 40), ("Gi", 2 ** 30), ("Mi", 2 ** 20), ("Ki", 2 ** 10))


def quantity(value):
    """A non-negative Kubernetes quantity as a Decimal, or None (see k8s_objects.parse_quantity)."""
    if isinstance(value, str) and value != value.strip():
        return None
    number = parse_quantity(value)
    if number is None or number < 0 or not number.is_finite():
        return None
    return number


def format_quantity(number, resource="memory"):
    """A Decimal as Kubernetes writes it: ``2``, ``500m``, ``1.5`` for CPU; ``4Gi``, ``1536Mi`` otherwise."""
    number = Decimal(number)
    if resource == "cpu":
        if number >= 1 or number == 0:
            text = format(number.normalize(), "f")
            return text
        millis = number * 1000
        return "%sm" % format(millis.normalize(), "f")
    if number == number.to_integral_value():
        whole = int(number)
        for suffix, factor in _BINARY:
            if whole and whole % factor == 0:
                return "%d%s" % (whole // factor, suffix)
        return str(whole)
    return format(number.normalize(), "f")


def _count(value):
    """A replica count (a whole number of at least 0), or None."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def container_resources(container, limit_range=None):
    """``{"requests": {res: Decimal}, "limits": {...}}`` of a container as the API admits it.

    A limit without a request makes the request equal to the limit (API defaulting); what is
    still missing comes from the LimitRange's ``default_request`` and ``default``. Values that
    are not quantities are left out (another check names them).
    """
    resources = container.get("resources") if isinstance(container, dict) else None
    resources = resources if isinstance(resources, dict) else {}
    limit_range = limit_range if isinstance(limit_range, dict) else {}
    result = {}
    for kind in ("requests", "limits"):
        given = resources.get(kind)
        given = given if isinstance(given, dict) else {}
        result[kind] = {name: quantity(value) for name, value in given.items() if quantity(value) is not None}
    for name, value in result["limits"].items():
        result["requests"].setdefault(name, value)
    for kind, default_key in (("limits", "default"), ("requests", "default_request")):
        defaults = limit_range.get(default_key)
        for name, value in (defaults.items() if isinstance(defaults, dict) else ()):
            if name not in result[kind] and quantity(value) is not None:
                result[kind][name] = quantity(value)
    return result


def pod_resources(pod, limit_range=None):
    """What one pod of ``pod`` counts against a quota, per kind and resource.

    As the scheduler and ResourceQuota compute it: the larger of the sum of the containers
    and the largest init container (init containers run one after another, before the others).
    """
    containers = [container_resources(c, limit_range) for c in pod.get("containers") or []]
    inits = [container_resources(c, limit_range) for c in pod.get("init_containers") or []]
    result = {}
    for kind in ("requests", "limits"):
        names = {n for c in containers + inits for n in c[kind]}
        result[kind] = {}
        for name in names:
            total = sum((c[kind].get(name, Decimal(0)) for c in containers), Decimal(0))
            largest_init = max((c[kind].get(name, Decimal(0)) for c in inits), default=Decimal(0))
            result[kind][name] = max(total, largest_init)
    return result


def _missing(pods, kind, resource, limit_range):
    """Names of containers that would run without ``kind`` of ``resource`` (the quota refuses them)."""
    missing = []
    for pod in pods:
        if not _count(pod.get("replicas", 1)):
            continue
        for container in (pod.get("containers") or []) + (pod.get("init_containers") or []):
            if resource not in container_resources(container, limit_range)[kind]:
                missing.append(container.get("name") or pod.get("name"))
    return sorted(set(missing))


def _term(name, replicas, each, resource):
    text = format_quantity(each, resource) if resource != "pods" else str(each)
    return "%s %s" % (name, text) if replicas == 1 else "%s %d × %s" % (name, replicas, text)


def quota_problems(quota, pods, volumes=(), limit_range=None):
    """Messages ``[key]: ...`` for every ResourceQuota entry that cannot hold the platform.

    ``pods`` are every pod the platform runs at once at most (replicas of each workload, one of
    each Job or CronJob, one KubernetesExecutor worker); ``volumes`` its PersistentVolumeClaims.
    Keys counted: ``requests.cpu``, ``requests.memory``, ``limits.cpu``, ``limits.memory`` (and
    ``cpu``, ``memory``, ``ephemeral-storage`` forms), ``pods``, ``requests.storage`` and
    ``persistentvolumeclaims``; other keys are left alone.
    """
    if not isinstance(quota, dict):
        return []
    pods = [p for p in pods or [] if isinstance(p, dict)]
    problems = []
    for key, hard_value in quota.items():
        hard = quantity(hard_value)
        if hard is None:
            continue  # not a quantity: the quantities check says so
        if key in QUOTA_COMPUTE_KEYS:
            kind, resource = QUOTA_COMPUTE_KEYS[key]
            missing = _missing(pods, kind, resource, limit_range)
            if missing:
                problems.append("[%r]: the API refuses pods under this quota whose containers set no %s %s, "
                                "and these set none (nor does tenant_limit_range give a default): %s"
                                % (key, resource, "request" if kind == "requests" else "limit", ", ".join(missing)))
                continue
            terms, total = [], Decimal(0)
            for pod in pods:
                replicas = _count(pod.get("replicas", 1))
                if not replicas:
                    continue
                each = pod_resources(pod, limit_range)[kind].get(resource, Decimal(0))
                total += replicas * each
                terms.append(_term(pod.get("name"), replicas, each, resource))
            if total > hard:
                problems.append("[%r]: %s does not hold the platform's %s: %s = %s" % (
                    key, format_quantity(hard, resource), kind, " + ".join(terms), format_quantity(total, resource)))
        elif key == "pods":
            counted = [(p.get("name"), _count(p.get("replicas", 1))) for p in pods]
            counted = [(name, n) for name, n in counted if n]
            total = sum(n for _, n in counted)
            if total > hard:
                problems.append("[%r]: %s does not hold the platform's pods: %s = %d" % (
                    key, format_quantity(hard, "pods"), " + ".join("%s %d" % c for c in counted), total))
        elif key == "requests.storage":
            sized = [(v.get("name"), quantity(v.get("size"))) for v in volumes or [] if isinstance(v, dict)]
            sized = [(name, size) for name, size in sized if size is not None]
            total = sum((size for _, size in sized), Decimal(0))
            if total > hard:
                problems.append("[%r]: %s does not hold the platform's volumes: %s = %s" % (
                    key, format_quantity(hard), " + ".join("%s %s" % (n, format_quantity(s)) for n, s in sized),
                    format_quantity(total)))
        elif key == "persistentvolumeclaims":
            names = [v.get("name") for v in volumes or [] if isinstance(v, dict)]
            if len(names) > hard:
                problems.append("[%r]: %s does not hold the platform's %d PersistentVolumeClaims (%s)" % (
                    key, format_quantity(hard, "pods"), len(names), ", ".join(names)))
    return problems


def limit_range_problems(maximum, pods, limit_range=None):
    """Messages ``[resource]: ...`` for every container that asks for more than the LimitRange's ``max``.

    The API refuses such a pod (and a container with no limit where ``max`` names the resource).
    """
    if not isinstance(maximum, dict):
        return []
    problems = []
    seen = set()
    for pod in pods or []:
        if not isinstance(pod, dict) or not _count(pod.get("replicas", 1)):
            continue
        for container in (pod.get("containers") or []) + (pod.get("init_containers") or []):
            name = container.get("name") or pod.get("name")
            effective = container_resources(container, limit_range)
            for resource, max_value in maximum.items():
                most = quantity(max_value)
                if most is None or (name, resource) in seen:
                    continue
                limit = effective["limits"].get(resource)
                if limit is None:
                    seen.add((name, resource))
                    problems.append("[%r]: %s sets no %s limit, which the API requires under a LimitRange max"
                                    % (resource, name, resource))
                    continue
                for kind in ("limits", "requests"):
                    value = effective[kind].get(resource)
                    if value is not None and value > most:
                        seen.add((name, resource))
                        problems.append("[%r]: %s is less than %s.%s.%s %s: the API refuses its pods" % (
                            resource, format_quantity(most, resource), name, kind, resource,
                            format_quantity(value, resource)))
                        break
    return problems


def _pooled_terms(replicas, pool_size, max_overflow, api_workers, local):
    """``[(component, connections, how)]``: what Airflow's pooled components may hold at once.

    Every replica of a pooled component (each api-server worker process) holds up to
    ``pool_size + max_overflow``. On the local target each component runs once.
    """
    per_process = pool_size + max_overflow
    terms = []
    for component in POOLED_COMPONENTS:
        count = 1 if local else (replicas or {}).get(component, 0)
        if not _count(count):
            continue
        processes = count * (api_workers if component == "api_server" else 1)
        if component == "api_server" and api_workers != 1:
            how = "%d × %d workers × (%d + %d)" % (count, api_workers, pool_size, max_overflow)
        else:
            how = "%d × (%d + %d)" % (count, pool_size, max_overflow)
        terms.append((component, processes * per_process, how))
    return terms


def _direct_terms(reserved):
    """The connections besides Airflow's pools: OTHER_CONNECTIONS and the superuser reserve."""
    return [(what, count, str(count)) for what, count in OTHER_CONNECTIONS] + [
        ("superuser_reserved_connections", reserved, str(reserved))]


def pg_connections(replicas, pool_size, max_overflow, api_workers=1, local=False,
                   reserved=SUPERUSER_RESERVED_CONNECTIONS, clients_only=False):
    """``(total, terms)``: the connections the platform may open to its PostgreSQL at once.

    Airflow's pooled components, then OTHER_CONNECTIONS and the superuser reserve; with
    ``clients_only`` the pooled components alone (what PgBouncer must accept from Airflow).
    ``terms`` are ``(what, count, how)`` for the message.
    """
    terms = _pooled_terms(replicas, pool_size, max_overflow, api_workers, local)
    if not clients_only:
        terms += _direct_terms(reserved)
    return sum(count for _, count, _ in terms), terms


def pgbouncer_pool_left(max_connections, reserved=SUPERUSER_RESERVED_CONNECTIONS):
    """The server connections left for PgBouncer's pool once the direct clients and the reserve have theirs."""
    return max_connections - sum(count for _, count, _ in _direct_terms(reserved))


def pgbouncer_pool_problem(pool, max_connections, reserved=SUPERUSER_RESERVED_CONNECTIONS, replicas=1):
    """A message when PgBouncer's ``pool`` does not fit in ``max_connections``; None when it does.

    Each of ``replicas`` PgBouncers holds a pool of its own (``max_db_connections`` is per process),
    so all of them must fit at once.
    """
    numbers = (pool, max_connections, reserved, replicas)
    if any(isinstance(n, bool) or not isinstance(n, int) for n in numbers):
        return None  # a wrong type: the argument spec says so
    left = pgbouncer_pool_left(max_connections, reserved)
    if pool * replicas <= left:
        return None
    asked = "%d" % pool if replicas == 1 else "%d × %d PgBouncers = %d" % (pool, replicas, pool * replicas)
    return "%s is more than the %d server connections postgres_max_connections %d leaves for it: %d - %s = %d" % (
        asked, left, max_connections, max_connections,
        " - ".join("%s %d" % (what, count) for what, count, _ in _direct_terms(reserved)), left)


def connections_problem(max_connections, replicas, pool_size, max_overflow, api_workers=1, local=False,
                        reserved=SUPERUSER_RESERVED_CONNECTIONS, clients_only=False):
    """A message when ``max_connections`` is fewer than pg_connections(); None when it is enough."""
    numbers = (max_connections, pool_size, max_overflow, api_workers, reserved)
    if any(isinstance(n, bool) or not isinstance(n, int) for n in numbers):
        return None  # a wrong type: the argument spec says so
    if not local and not isinstance(replicas, dict):
        return None
    total, terms = pg_connections(replicas, pool_size, max_overflow, api_workers, local, reserved, clients_only)
    if max_connections >= total:
        return None
    return "%d is fewer than the %d connections %s may open: %s = %d" % (
        max_connections, total, "Airflow's components" if clients_only else "the platform", " + ".join(
            "%s %s" % (what, how) if how == str(count) else "%s %s = %d" % (what, how, count)
            for what, count, how in terms), total)
