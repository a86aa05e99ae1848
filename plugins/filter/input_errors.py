# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Input checks that an argument spec cannot express, as one filter.

A role lists its checks as data (``roles/<role>/vars/main.yml``) and asserts that
``checks | edp.platform.input_errors`` is empty, so every problem of an inventory is
reported at once, each message naming the variable.
"""

from __future__ import annotations

import ipaddress
import re

from urllib.parse import urlsplit

from ansible_collections.edp.platform.plugins.module_utils import capacity
from ansible_collections.edp.platform.plugins.module_utils.pg_archive import parse_age

DOCUMENTATION = r"""
name: input_errors
short_description: Check inventory values (DNS names, quantities, images, secrets, sizes) and list what is wrong
version_added: 0.1.0
description:
  - Takes a list of checks, each a mapping with C(name) (the variable, for the message),
    C(value) and C(check), and returns a list of messages, empty when all is well.
  - "Checks of one value: C(dns1123_label), C(dns1123_subdomain), C(quantity) (a Kubernetes
    quantity of at least zero), C(quantities) (a mapping of them), C(size) (a quantity above
    zero), C(image), C(images) (a mapping of images; with C(pinned=true) the tag C(latest) and untagged images are refused), C(secret)
    (present and not a placeholder), C(required) (not empty; C(why) says what to do instead),
    C(labels) (valid Kubernetes label keys and values), C(absolute_path), C(pg_identifier)
    (a PostgreSQL name that needs no quoting), C(cron) (a five-field schedule or a macro such
    as C(@daily), as a CronJob and crontab take it), C(duration) (seconds, or C(14d), C(26h),
    C(1d12h); above zero), C(positive) (an integer of at least 1), C(port) (an integer from 1 to
    65535), C(email) (an e-mail address), C(at_least) (an integer of at least C(min), with C(why)),
    C(one_of) (one of C(values), with C(why)), C(subset_of) (a list whose every item is in C(values)),
    C(cidrs) (a list of IPv4 or IPv6 networks, none with host bits set nor the whole internet),
    C(egress_rules) (a NetworkPolicy egress allow-list - C(cidr), C(ports) with C(port), C(protocol)
    and C(end_port), C(except) networks inside C(cidr)), C(url) (a URL of one of C(schemes), with a
    host, with C(why)), C(ldap_dn) (an RFC 4514 distinguished name), C(ldap_filter) (an LDAP filter
    in balanced parentheses), C(pem_certificate) (one or more PEM certificates), C(contains) (a list
    that holds C(item), with C(why))."
  - "Checks of Airflow's logins: C(role_map) (a mapping of a group DN - with C(dn_keys) - or a claim
    value to a non-empty list of roles, each in C(roles)), C(airflow_users) (each user with a
    C(username) listed once, not C(admin), C(email), C(first_name), C(last_name), C(roles) among
    C(roles), and a C(password) that is a real secret, required when C(auth) is V(db)),
    C(airflow_roles) (each a C(name) not among C(builtin), listed once, with C(permissions) of
    C(action) and C(resource))."
  - "Checks of a mapping: C(known_keys) (no key outside C(keys)), C(replicas) (each of C(keys)
    present, a whole number of at least 0), C(without_keys) (none of the keys of C(keys), each
    naming the variable to set instead), C(resources) (C(requests) and C(limits), each a mapping
    of quantities, and no request above its limit), C(limit_range) (C(default_request), C(default)
    and C(max) of a LimitRange, in that order for each resource)."
  - "Checks against other values (the validate action resolves them): C(equals) (the value is
    C(other), whose variable is C(other_name)), C(connections) (PostgreSQL's max_connections holds
    what the Airflow components' pools (C(replicas), C(pool_size), C(max_overflow), C(api_workers),
    C(target); on C(local) each component runs once), the Jobs and the backups open, with the
    arithmetic in the message; with C(clients_only) the pools alone, which PgBouncer's
    C(max_client_conn) must accept), C(pgbouncer_pool) (PgBouncer's pool, once per of its C(replicas), fits
    in C(max_connections) after the direct clients and the C(reserved) connections), C(quota) (a
    ResourceQuota's C(hard) holds the platform's C(pods) and C(volumes), after the C(limit_range)
    defaults, with the sum in the message), C(limit_range_max) (no container of C(pods) asks for
    more than the LimitRange's C(max))."
options:
  _input:
    description: The checks.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Refuse a bad inventory before anything is changed
  ansible.builtin.assert:
    that: errors | length == 0
    fail_msg: "{{ errors | join('; ') }}"
  vars:
    errors: "{{ checks | edp.platform.input_errors }}"
    checks:
      - {name: edp_namespace, value: "{{ edp_namespace }}", check: dns1123_label}
"""

RETURN = r"""
_value:
  description: One message per problem, naming the variable.
  type: list
  elements: str
"""

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# registry[:port]/path/name[:tag][@sha256:digest]
IMAGE = re.compile(
    r"^(?P<name>(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?$")
CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
# minute, hour, day of month, month, day of week: their ranges and names.
CRON_FIELDS = (("minute", 0, 59, ()), ("hour", 0, 23, ()), ("day of month", 1, 31, ()),
               ("month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun",
                                 "jul", "aug", "sep", "oct", "nov", "dec")),
               ("day of week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")))
CRON_ITEM = re.compile(r"^(\*|(?P<low>\w+)(-(?P<high>\w+))?)(/(?P<step>\d+))?$")
PG_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# local@domain.tld: no spaces, one @, a dot in the domain (what an MTA takes, not all RFC 5322 allows).
_DOMAIN_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL = re.compile(r"^[A-Za-z0-9.!#$%%&'*+/=?^_`{|}~-]+@%s(?:\.%s)+$" % (_DOMAIN_LABEL, _DOMAIN_LABEL))
PLACEHOLDERS = {"changeme", "change-me", "change_me", "password", "secret", "xxx", "todo", "replace-me"}


def _label_problem(value):
    if not isinstance(value, str) or len(value) > 63 or not DNS1123_LABEL.match(value):
        return ("%r is not a DNS-1123 label (lowercase letters, digits and '-', "
                "starting and ending with a letter or digit, at most 63 characters)" % (value,))
    return None


def _subdomain_problem(value):
    if not isinstance(value, str) or len(value) > 253 or not all(
            DNS1123_LABEL.match(part) for part in value.split(".")):
        return ("%r is not a DNS-1123 subdomain (lowercase dot-separated labels, at most 253 characters)"
                % (value,))
    return None


def _quantity_problem(value):
    """One quantity parser for the checks and the apply (k8s_objects.parse_quantity), and no negatives."""
    if capacity.quantity(value) is None:
        if capacity.quantity(str(value).lstrip("-")) is not None and str(value).startswith("-"):
            return "%r is below zero" % (value,)
        return "%r is not a Kubernetes quantity (such as 500m, 2, 512Mi, 10Gi)" % (value,)
    return None


def _image_problem(value, pinned):
    if not isinstance(value, str) or not IMAGE.match(value):
        return "%r is not an image reference (registry/name:tag or name@sha256:digest)" % (value,)
    match = IMAGE.match(value)
    if pinned and not match.group("digest"):
        if not match.group("tag"):
            return "%r has no tag: pin a version (this environment refuses untagged images)" % value
        if match.group("tag") == "latest":
            return "%r uses the tag 'latest': pin a version (this environment refuses 'latest')" % value
    return None


def _secret_problem(value):
    if value is None or (isinstance(value, str) and not value.strip()):
        return "is required: set it in a vaulted variable (ansible-vault) or an AWX credential"
    if not isinstance(value, str):
        return "must be a string"
    if value.strip().lower() in PLACEHOLDERS:
        return "is a placeholder, not a secret: set the real value in a vaulted variable"
    return None


def _cron_value(text, low, high, names):
    value = names.index(text.lower()) + low if text.lower() in names else int(text) if text.isdigit() else None
    return value if value is not None and low <= value <= high else None


def _cron_problem(value):
    """None for a schedule CronJobs and crontab both take; otherwise what is wrong, in words."""
    if not isinstance(value, str):
        return "%r is not a cron schedule" % (value,)
    if value.strip() in CRON_MACROS:
        return None
    fields = value.split()
    if len(fields) != 5:
        return ("%r is not a cron schedule: it needs five fields (minute hour day-of-month month "
                "day-of-week), or a macro such as @daily" % value)
    for field, (what, low, high, names) in zip(fields, CRON_FIELDS):
        for item in field.split(","):
            match = CRON_ITEM.match(item)
            bounds = match and [match.group(k) for k in ("low", "high") if match.group(k)]
            if not match or any(_cron_value(b, low, high, names) is None for b in bounds) or (
                    match.group("step") is not None and int(match.group("step")) == 0):
                return "%r: the %s field %r is not valid (%d-%d)" % (value, what, field, low, high)
    return None


def _duration_problem(value):
    try:
        seconds = parse_age(value)
    except ValueError:
        return "%r is not seconds or a duration such as 14d, 26h, 90m, 1d12h" % (value,)
    if seconds <= 0:
        return "%r is not a duration above zero" % (value,)
    return None


def _size_problem(value):
    problem = _quantity_problem(value)
    if problem:
        return problem
    return None if capacity.quantity(value) > 0 else "%r is not a size above zero" % (value,)


def _whole(value, least):
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _port_problem(value):
    return None if _whole(value, 1) and value <= 65535 else "%r is not a port (1-65535)" % (value,)


def _email_problem(value):
    if isinstance(value, str) and len(value) <= 254 and EMAIL.match(value):
        return None
    return "%r is not an e-mail address (such as name@example.com)" % (value,)


def _cidr_problem(value):
    """None for a network such as 10.20.0.0/16 (what a NetworkPolicy's ipBlock takes)."""
    if not isinstance(value, str) or "/" not in value:
        return "%r is not a CIDR (a network such as 10.20.0.0/16 or 2001:db8::/48)" % (value,)
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return "%r is not a CIDR (a network such as 10.20.0.0/16 or 2001:db8::/48)" % (value,)
    if str(network) != value:
        return "%r has host bits set: the network is %s" % (value, network)
    if network.prefixlen == 0:
        return "%r is the whole internet: list the networks of the data sources and sinks" % (value,)
    return None


def _cidrs_problems(value):
    if not isinstance(value, list):
        return ["must be a list of CIDRs"]
    return ["[%d]: %s" % (i, p) for i, p in ((i, _cidr_problem(v)) for i, v in enumerate(value)) if p]


def _egress_rules_problems(value):
    """``[0].cidr: ...`` messages for an allow-list of {cidr, ports, except, description}."""
    if not isinstance(value, list):
        return ["must be a list of {cidr, ports, except, description}"]
    problems = []
    for index, rule in enumerate(value):
        where = "[%d]" % index
        if not isinstance(rule, dict):
            problems.append("%s: must be a mapping with cidr and ports" % where)
            continue
        problems += ["%s: has an unknown key %r (cidr, ports, except, description)" % (where, k)
                     for k in rule if k not in ("cidr", "ports", "except", "description")]
        problem = _cidr_problem(rule.get("cidr"))
        if problem:
            problems.append("%s.cidr: %s" % (where, problem))
        ports = rule.get("ports") or []
        for number, port in enumerate(ports if isinstance(ports, list) else [ports]):
            at = "%s.ports[%d]" % (where, number)
            if not isinstance(port, dict):
                problems.append("%s: must be a mapping with port (and protocol, end_port)" % at)
                continue
            problem = _port_problem(port.get("port"))
            if problem:
                problems.append("%s.port: %s" % (at, problem))
            if port.get("protocol", "TCP") not in ("TCP", "UDP", "SCTP"):
                problems.append("%s.protocol: %r is not one of TCP, UDP, SCTP" % (at, port.get("protocol")))
            end = port.get("end_port")
            if end is not None:
                problem = _port_problem(end)
                if problem:
                    problems.append("%s.end_port: %s" % (at, problem))
                elif _whole(port.get("port"), 1) and end < port["port"]:
                    problems.append("%s.end_port: %r is below port %r" % (at, end, port["port"]))
        excepted = rule.get("except") or []
        for number, inner in enumerate(excepted if isinstance(excepted, list) else [excepted]):
            at = "%s.except[%d]" % (where, number)
            problem = _cidr_problem(inner)
            if problem:
                problems.append("%s: %s" % (at, problem))
            elif not _cidr_problem(rule.get("cidr")):
                outer, network = ipaddress.ip_network(rule["cidr"]), ipaddress.ip_network(inner)
                if network.version != outer.version or not network.subnet_of(outer) or network == outer:
                    problems.append("%s: %r is not a network inside cidr %s" % (at, inner, rule["cidr"]))
    return problems


def _why(check):
    return (": " + check["why"]) if check.get("why") else ""


def _resources_problems(value):
    """``.requests.cpu: ...`` messages for a container's requests and limits."""
    if not isinstance(value, dict):
        return ["must be a mapping with requests and limits"]
    problems = ["has an unknown key %r (requests, limits)" % (k,) for k in value if k not in ("requests", "limits")]
    parsed = {}
    for kind in ("requests", "limits"):
        given = value.get(kind)
        if given is None:
            continue
        if not isinstance(given, dict):
            problems.append(".%s: must be a mapping of resources (cpu, memory) to quantities" % kind)
            continue
        parsed[kind] = {}
        for resource, amount in given.items():
            problem = _quantity_problem(amount)
            if problem:
                problems.append(".%s.%s: %s" % (kind, resource, problem))
            else:
                parsed[kind][resource] = capacity.quantity(amount)
    for resource, request in (parsed.get("requests") or {}).items():
        limit = (parsed.get("limits") or {}).get(resource)
        if limit is not None and request > limit:
            problems.append(".requests.%s: %s is more than its limit %s" % (
                resource, value["requests"][resource], value["limits"][resource]))
    return problems


def _limit_range_problems(value, name):
    """``default_request <= default <= max`` for each resource the LimitRange names."""
    if not isinstance(value, dict):
        return []
    order = ("default_request", "default", "max")
    parsed = {k: {r: capacity.quantity(v) for r, v in (value.get(k) or {}).items() if capacity.quantity(v) is not None}
              for k in order if isinstance(value.get(k), dict)}
    problems = []
    for index, low in enumerate(order):
        for resource, amount in (parsed.get(low) or {}).items():
            # The next part of the order that names the resource (default may leave it to max).
            high = next((h for h in order[index + 1:] if resource in (parsed.get(h) or {})), None)
            if high and amount > parsed[high][resource]:
                problems.append(".%s.%s: %s is more than %s.%s.%s %s" % (
                    low, resource, value[low][resource], name, high, resource, value[high][resource]))
    return problems


def _replicas_problems(value, keys):
    if not isinstance(value, dict):
        return ["must be a mapping of %s to replicas" % ", ".join(keys)]
    problems = [".%s: is not set" % k for k in keys if k not in value]
    problems += [".%s: %r is not a whole number of at least 0" % (k, v) for k, v in value.items()
                 if not _whole(v, 0)]
    return problems


def _known_keys_problems(value, keys):
    if not isinstance(value, dict):
        return []
    return ["has an unknown key %r (%s)" % (k, ", ".join(keys)) for k in value if k not in keys]


def _without_keys_problems(value, keys):
    if not isinstance(value, dict):
        return []
    return ["[%r]: set %s instead (the platform derives this setting from it)" % (k, keys[k])
            for k in value if k in keys]


def _number(value, default):
    """An int from an int or a string of digits (settings such as AIRFLOW__API__WORKERS are strings)."""
    if value is None:
        return default
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def _connections_problems(check):
    problem = capacity.connections_problem(
        check.get("value"), check.get("replicas"), check.get("pool_size"), check.get("max_overflow"),
        api_workers=_number(check.get("api_workers"), 1), local=check.get("target") == "local",
        reserved=_number(check.get("reserved"), capacity.SUPERUSER_RESERVED_CONNECTIONS),
        clients_only=bool(check.get("clients_only")))
    return [problem] if problem else []


def _pgbouncer_pool_problems(check):
    problem = capacity.pgbouncer_pool_problem(
        check.get("value"), check.get("max_connections"),
        reserved=_number(check.get("reserved"), capacity.SUPERUSER_RESERVED_CONNECTIONS),
        replicas=_number(check.get("replicas"), 1))
    return [problem] if problem else []


def _labels_problem(value):
    if not isinstance(value, dict):
        return "must be a mapping of label names to values"
    for name, text in value.items():
        prefix, _, short = str(name).rpartition("/")
        if (prefix and _subdomain_problem(prefix)) or len(short) > 63 or not LABEL_NAME.match(short):
            return "has an invalid label name %r" % (name,)
        if not isinstance(text, str) or len(text) > 63 or not LABEL_VALUE.match(text):
            return ("label %r has an invalid value %r (at most 63 letters, digits, '-', '_' or '.', "
                    "starting and ending with a letter or digit)" % (name, text))
    return None


# An RFC 4514 distinguished name: attribute=value pairs (an attribute name or an OID), joined by
# '+' within a relative name and by ',' between them; in a value the characters "+,;<>\= only
# escaped (a backslash before them, or two hex digits after it).
DN_ATTRIBUTE = re.compile(r"^\s*(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+)\s*$")
DN_ESCAPE = re.compile(r"\\(?:[0-9A-Fa-f]{2}|[\\\"+,;<>= #])")
DN_EXAMPLE = "cn=airflow,ou=services,dc=example,dc=com"


def _dn_valid(value):
    if not isinstance(value, str) or not value.strip():
        return False
    pairs, current, i = [], "", 0
    while i < len(value):
        escape = DN_ESCAPE.match(value, i)
        if escape:
            current += escape.group(0)
            i = escape.end()
            continue
        if value[i] in ",+":
            pairs.append(current)
            current = ""
        else:
            current += value[i]
        i += 1
    pairs.append(current)
    for pair in pairs:
        attribute, sep, text = pair.partition("=")
        bare = DN_ESCAPE.sub("", text).strip()
        if not sep or not DN_ATTRIBUTE.match(attribute) or not text.strip() or any(c in bare for c in '"+,;<>=\\'):
            return False
    return True


def _ldap_dn_problem(value):
    if _dn_valid(value):
        return None
    return "%r is not a distinguished name (attribute=value pairs joined by commas, such as %s)" % (value, DN_EXAMPLE)


def _ldap_filter_problem(value):
    """A filter as FAB takes it: in parentheses, balanced, not empty."""
    if isinstance(value, str) and value.startswith("(") and value.endswith(")") and len(value) > 2:
        depth = 0
        for char in value:
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth < 0:
                break
        else:
            if depth == 0:
                return None
    return "%r is not an LDAP filter (one in balanced parentheses, such as (objectClass=inetOrgPerson))" % (value,)


def _url_problem(value, schemes, why=""):
    """A URL with one of ``schemes`` and a host (and a valid port, if any)."""
    example = " or ".join("%s://host[:port]" % scheme for scheme in schemes)
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
        good = parts is not None and parts.scheme in schemes and bool(parts.hostname) and (
            parts.port is None or 0 < parts.port < 65536) and not any(c.isspace() for c in value)
    except ValueError:  # a port that is no number
        good = False
    if good:
        return None
    return "%r is not a URL such as %s%s" % (value, example, why)


def _pem_certificate_problem(value):
    """One or more PEM certificates (the authority a client trusts)."""
    try:
        from cryptography import x509

        if isinstance(value, str) and x509.load_pem_x509_certificates(value.encode()):
            return None
    except (ImportError, ValueError):
        pass
    return "is not a PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)"


def _roles_problem(roles, known):
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        return "must be a list of role names (at least one)"
    unknown = [r for r in roles if r not in known]
    if unknown:
        return "%s %s not %s of Airflow's roles (%s)" % (
            ", ".join(repr(r) for r in unknown), "is" if len(unknown) == 1 else "are",
            "one" if len(unknown) == 1 else "among", ", ".join(known))
    return None


def _role_map_problems(value, known, dn_keys):
    """{key: [roles]}: every role known; with ``dn_keys`` every key a distinguished name."""
    if not isinstance(value, dict) or not value:
        return ["must map at least one %s to its Airflow roles" % ("group DN" if dn_keys else "claim value")]
    problems = []
    for key, roles in value.items():
        if dn_keys and _ldap_dn_problem(key):
            problems.append("[%r]: %s" % (key, _ldap_dn_problem(key)))
        problem = _roles_problem(roles, known)
        if problem:
            problems.append("[%r]: %s" % (key, problem))
    return problems


def _airflow_users_problems(value, known, admin, passwords):
    """airflow_users: unique names, not the admin, known roles, a password where Airflow checks it."""
    if not isinstance(value, list):
        return ["must be a list"]
    problems, seen = [], set()
    for i, user in enumerate(value):
        if not isinstance(user, dict) or not isinstance(user.get("username"), str) or not user.get("username"):
            problems.append("[%d]: needs a username" % i)
            continue
        name = user["username"]
        where = "[%d] (%s)" % (i, name)
        if name in seen:
            problems.append("%s: is listed twice" % where)
        seen.add(name)
        if name == admin:
            problems.append("%s: is the admin (airflow_admin_username), which the role keeps apart" % where)
        for field in ("email", "first_name", "last_name"):
            if not user.get(field):
                problems.append("%s: needs %s" % (where, field))
        if user.get("email") and _email_problem(user["email"]):
            problems.append("%s.email: %s" % (where, _email_problem(user["email"])))
        roles_problem = _roles_problem(user.get("roles"), known)
        if roles_problem:
            problems.append("%s.roles: %s" % (where, roles_problem))
        if passwords and "password" not in user:
            problems.append("%s: needs a password (from the vault) when users log in with Airflow's own "
                            "database (airflow_auth: db)" % where)
        elif "password" in user and _secret_problem(user["password"]):
            problems.append("%s.password: %s" % (where, _secret_problem(user["password"])))
    return problems


def _airflow_roles_problems(value, builtin):
    """airflow_roles: a name of its own each, with permissions (action and resource)."""
    if not isinstance(value, list):
        return ["must be a list"]
    problems, seen = [], set()
    for i, role in enumerate(value):
        if not isinstance(role, dict) or not isinstance(role.get("name"), str) or not role.get("name"):
            problems.append("[%d]: needs a name" % i)
            continue
        where = "[%d] (%s)" % (i, role["name"])
        if role["name"] in builtin:
            problems.append("%s: is one of Airflow's own roles (%s), which it keeps itself"
                            % (where, ", ".join(builtin)))
        if role["name"] in seen:
            problems.append("%s: is listed twice" % where)
        seen.add(role["name"])
        permissions = role.get("permissions")
        if not isinstance(permissions, list) or not permissions or not all(
                isinstance(p, dict) and p.get("action") and p.get("resource") for p in permissions):
            problems.append("%s.permissions: must be a list of {action, resource} (such as "
                            "{action: can_read, resource: DAGs})" % where)
    return problems


def _each(value, problem):
    if not isinstance(value, dict):
        return ["must be a mapping"]
    return ["[%r]: %s" % (k, p) for k, p in ((k, problem(v)) for k, v in value.items()) if p]


def check_one(check):
    """Messages (without the variable name) for one check."""
    kind, value = check["check"], check.get("value")
    if kind == "secret":
        problem = _secret_problem(value)
        return [problem] if problem else []
    if kind == "required":
        return [] if value not in (None, "", [], {}) else ["is required" + _why(check)]
    if kind == "empty":
        return [] if value in (None, "", [], {}) else ["is set, but nothing would use it" + _why(check)]
    if value is None:
        return ["is not set"]
    pinned = bool(check.get("pinned"))
    single = {
        "dns1123_label": _label_problem,
        "dns1123_subdomain": _subdomain_problem,
        "quantity": _quantity_problem,
        "size": _size_problem,
        "image": lambda v: _image_problem(v, pinned),
        "labels": _labels_problem,
        "pg_identifier": lambda v: None if isinstance(v, str) and PG_IDENTIFIER.match(v)
        else "%r is not a plain PostgreSQL name (lowercase letters, digits and '_', at most 63)" % (v,),
        "cron": _cron_problem,
        "duration": _duration_problem,
        "positive": lambda v: None if _whole(v, 1) else "%r is not a whole number of at least 1" % (v,),
        "port": _port_problem,
        "email": _email_problem,
        "absolute_path": lambda v: None if isinstance(v, str) and v.startswith("/")
        else "%r is not an absolute path" % (v,),
        "ldap_dn": _ldap_dn_problem,
        "ldap_filter": _ldap_filter_problem,
        "pem_certificate": _pem_certificate_problem,
        "url": lambda v: _url_problem(v, check.get("schemes") or ["https"], _why(check)),
    }
    if kind == "one_of":
        allowed = check.get("values") or []
        return [] if value in allowed else ["%r is not one of %s%s" % (
            value, ", ".join(map(str, allowed)), _why(check))]
    if kind == "subset_of":
        allowed = check.get("values") or []
        if not isinstance(value, list):
            return ["must be a list"]
        return ["[%d]: %r is not one of %s%s" % (i, v, ", ".join(map(str, allowed)), _why(check))
                for i, v in enumerate(value) if v not in allowed]
    if kind == "at_least":
        least = check["min"]
        if isinstance(value, bool) or not isinstance(value, int):
            return ["%r is not a whole number" % (value,)]
        return [] if value >= least else ["%r is less than %d%s" % (value, least, _why(check))]
    if kind == "equals":
        other = check.get("other")
        return [] if value == other else ["%r is not %s %r%s" % (value, check.get("other_name"), other, _why(check))]
    if kind == "greater_than":
        other = check.get("other")
        if isinstance(value, bool) or not isinstance(value, int):
            return ["%r is not a whole number" % (value,)]
        return [] if not isinstance(other, int) or value > other else [
            "%r is not more than %s (%r)%s" % (value, check.get("other_name"), other, _why(check))]
    if kind == "resources":
        return _resources_problems(value)
    if kind == "cidrs":
        return _cidrs_problems(value)
    if kind == "egress_rules":
        return _egress_rules_problems(value)
    if kind == "limit_range":
        return _limit_range_problems(value, check.get("name"))
    if kind == "replicas":
        return _replicas_problems(value, check.get("keys") or [])
    if kind == "known_keys":
        return _known_keys_problems(value, check.get("keys") or [])
    if kind == "without_keys":
        return _without_keys_problems(value, check.get("keys") or {})
    if kind == "connections":
        return _connections_problems(check)
    if kind == "pgbouncer_pool":
        return _pgbouncer_pool_problems(check)
    if kind == "quota":
        return capacity.quota_problems(value, check.get("pods"), check.get("volumes"), check.get("limit_range"))
    if kind == "limit_range_max":
        return capacity.limit_range_problems(value, check.get("pods"), check.get("limit_range"))
    if kind == "contains":
        if not isinstance(value, list):
            return ["must be a list"]
        return [] if check.get("item") in value else ["lacks %r (it is %r)%s" % (check.get("item"), value, _why(check))]
    if kind == "role_map":
        return _role_map_problems(value, check.get("roles") or [], bool(check.get("dn_keys")))
    if kind == "airflow_users":
        return _airflow_users_problems(value, check.get("roles") or [], check.get("admin"),
                                       check.get("auth", "db") == "db")
    if kind == "airflow_roles":
        return _airflow_roles_problems(value, check.get("builtin") or [])
    if kind in single:
        problem = single[kind](value)
        return [problem] if problem else []
    if kind == "quantities":
        return _each(value, _quantity_problem)
    if kind == "images":
        return _each(value, lambda v: _image_problem(v, pinned))
    raise ValueError("unknown check %r for %s" % (kind, check.get("name")))


def input_errors(checks):
    """``["name: problem", ...]`` for every failed check; checks with ``when: false`` are skipped."""
    errors = []
    for check in checks:
        if not check.get("when", True):
            continue
        for problem in check_one(check):
            sep = "" if problem.startswith(("[", ".")) else ": "
            errors.append("%s%s%s" % (check["name"], sep, problem))
    return errors


class FilterModule:
    def filters(self):
        return {"input_errors": input_errors}
