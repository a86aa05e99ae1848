#!/usr/bin/python
# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Report the health of a local-target tenant, component by component (playbooks/status.yml)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: local_status
short_description: Report every component of a local-target tenant as up or down
version_added: 0.2.0
description:
  - Asks each part of a tenant brought up by C(site.yml -i inventories/local) whether it
    works, the way a user would - PostgreSQL by C(pg_isready), Airflow through its health
    endpoint (the api-server, the metadata database, the scheduler, the triggerer and the
    dag-processor), the supervisor's programs by C(supervisorctl status), any other HTTP
    service by a GET, Prometheus' scrape targets through its API, the newest backup by its
    manifest's age, and whether a cron daemon runs to take the scheduled backups.
  - It only reads; it never reports C(changed) and never fails because a component is down.
    RV(down) names those that are, so a playbook decides what to do with them. A tenant
    younger than the backups' O(backups.max_age) with no dump yet is C(pending), not down.
author:
  - edp.platform contributors
options:
  postgres:
    description: The server to ask with C(pg_isready) - C(host) and C(port).
    type: dict
  airflow_url:
    description: The api-server's base URL; its C(/api/v2/monitor/health) is read.
    type: str
  supervisor_config:
    description: The supervisord configuration whose programs must all be RUNNING.
    type: path
  http:
    description: More services by name, each up when a GET of its URL answers 2xx.
    type: dict
    default: {}
  prometheus_url:
    description: Prometheus' base URL; every active scrape target must be up.
    type: str
  backups:
    description:
      - C(path), the folder of the dumps (C(<database>-*.dump.manifest.json)), and
        C(max_age), the oldest the newest may be (seconds or a duration such as V(26h)).
    type: dict
  cron:
    description: Whether the schedule needs a cron daemon, which is then looked for.
    type: bool
    default: false
  timeout:
    description: Seconds to wait for each answer.
    type: int
    default: 5
  wait:
    description:
      - Seconds to wait, asking again every second, until every component asked is up. It then
        fails when one is still down or pending, with its detail. V(0), the default, asks once and
        never fails because of what it finds.
      - The roles wait this way after a start, with one line of output instead of a line per try.
    type: int
    default: 0
"""

EXAMPLES = r"""
- name: Ask every component
  edp.platform.local_status:
    postgres: {host: 127.0.0.1, port: 5432}
    airflow_url: http://127.0.0.1:8080
    supervisor_config: /var/lib/edp/demo/config/airflow/supervisord.conf
    http:
      spark-history-server: http://127.0.0.1:18080/api/v1/version
    backups: {path: /var/lib/edp/demo/backups/dumps, max_age: 26h}
    cron: true
  register: status

- name: Wait up to 3 minutes until Airflow and every one of its components is healthy
  edp.platform.local_status:
    airflow_url: http://127.0.0.1:8080
    wait: 180
"""

RETURN = r"""
components:
  description: One entry per component, in the order asked.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "postgres", "state": "up", "detail": "accepting connections on 127.0.0.1:5432"}]
down:
  description: The names of the components that are down (not those pending).
  returned: always
  type: list
  elements: str
"""

import glob
import json
import os
import subprocess
import time
import urllib.error
import urllib.request

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.edp.platform.plugins.module_utils.pg_archive import format_duration, parse_age

AIRFLOW_COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


def up(name, detail):
    return {"name": name, "state": "up", "detail": detail}


def down(name, detail):
    return {"name": name, "state": "down", "detail": detail}


def get(url, timeout):
    """(status, body) of a GET; status 0 and the reason when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, b""
    except (OSError, ValueError) as err:
        return 0, str(getattr(err, "reason", err)).encode()


def check_postgres(server, timeout):
    where = "%s:%s" % (server["host"], server["port"])
    try:
        proc = subprocess.run(["pg_isready", "-h", str(server["host"]), "-p", str(server["port"]),
                               "-t", str(timeout)], capture_output=True, text=True, timeout=timeout + 5)
    except (OSError, subprocess.TimeoutExpired) as err:
        return down("postgres", "pg_isready could not run: %s" % err)
    if proc.returncode == 0:
        return up("postgres", "accepting connections on %s" % where)
    return down("postgres", "not accepting connections on %s (%s)" % (where, proc.stdout.strip() or proc.returncode))


def check_airflow(url, timeout):
    status, body = get(url.rstrip("/") + "/api/v2/monitor/health", timeout)
    if status != 200:
        detail = "no answer from %s (%s)" % (url, body.decode(errors="replace") or status)
        return [down("airflow-api-server", detail)] + [
            down("airflow-" + name.replace("_", "-"), "unknown: the api-server does not answer")
            for name in AIRFLOW_COMPONENTS]
    health = json.loads(body)
    found = [up("airflow-api-server", "answering on %s" % url)]
    for name in AIRFLOW_COMPONENTS:
        entry = health.get(name) or {}
        state = entry.get("status") or "not reported"
        beat = entry.get("latest_%s_heartbeat" % name)
        detail = state + (", last heartbeat %s" % beat if beat else "")
        found.append((up if state == "healthy" else down)("airflow-" + name.replace("_", "-"), detail))
    return found


def check_supervisor(config, timeout):
    try:
        proc = subprocess.run(["supervisorctl", "-c", config, "status"], capture_output=True, text=True,
                              timeout=timeout + 10)
    except (OSError, subprocess.TimeoutExpired) as err:
        return [down("supervisord", "supervisorctl could not run: %s" % err)]
    lines = [line.split(None, 2) for line in proc.stdout.splitlines() if line.strip()]
    programs = [fields for fields in lines if len(fields) >= 2 and fields[1].isupper()]
    if not programs:
        return [down("supervisord", "not running (%s)" % (proc.stdout.strip() or proc.stderr.strip()))]
    found = []
    for fields in programs:
        name, state = "program " + fields[0], fields[1]
        detail = state + (" " + fields[2] if len(fields) > 2 else "")
        if state == "STARTING":  # within its startsecs: not up yet, not down either
            found.append({"name": name, "state": "pending", "detail": detail})
        else:
            found.append((up if state == "RUNNING" else down)(name, detail))
    return found


def check_http(name, url, timeout):
    status, body = get(url, timeout)
    if 200 <= status < 300:
        return up(name, "answering on %s" % url)
    return down(name, "%s from %s" % (status or body.decode(errors="replace"), url))


def check_prometheus(url, timeout):
    status, body = get(url.rstrip("/") + "/api/v1/targets?state=active", timeout)
    if status != 200:
        return [down("prometheus", "no answer from %s (%s)" % (url, body.decode(errors="replace") or status))]
    targets = json.loads(body)["data"]["activeTargets"]
    bad = ["%s %s: %s" % (t["labels"].get("job"), t["scrapeUrl"], t.get("lastError") or t["health"])
           for t in targets if t["health"] == "down"]
    if bad:
        return [down("prometheus targets", "%d of %d down: %s" % (len(bad), len(targets), "; ".join(bad)))]
    unscraped = [t for t in targets if t["health"] != "up"]
    if unscraped:  # just started: not scraped yet
        return [{"name": "prometheus targets", "state": "pending",
                 "detail": "%d of %d not scraped yet" % (len(unscraped), len(targets))}]
    return [up("prometheus targets", "%d targets up" % len(targets))]


def check_backups(spec, now=None):
    """Up while the newest dump is younger than max_age. Before the first dump the state is
    pending (not down) until the folder itself is max_age old: the schedule has not come yet."""
    now = time.time() if now is None else now
    manifests = glob.glob(os.path.join(spec["path"], "*.dump.manifest.json"))
    max_age = spec.get("max_age")
    if not manifests:
        waited = now - os.path.getmtime(spec["path"]) if os.path.isdir(spec["path"]) else 0
        if max_age not in (None, "") and waited <= parse_age(max_age):
            return {"name": "backups", "state": "pending",
                    "detail": "no dump in %s yet; the schedule takes the first (or playbooks/backup.yml now)"
                              % spec["path"]}
        return down("backups", "no dump in %s" % spec["path"])
    newest = max(manifests, key=os.path.getmtime)
    age = max(0, now - os.path.getmtime(newest))
    detail = "newest %s, %s old" % (os.path.basename(newest)[:-len(".manifest.json")], format_duration(age))
    if max_age not in (None, "") and age > parse_age(max_age):
        return down("backups", detail + ", older than %s" % max_age)
    return up("backups", detail)


def cron_runs():
    """Whether a cron daemon runs (any process named cron or crond)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/comm" % pid) as comm:
                if comm.read().strip() in ("cron", "crond"):
                    return True
        except OSError:
            continue
    return False


def status(params):
    timeout = params["timeout"]
    found = []
    if params.get("postgres"):
        found.append(check_postgres(params["postgres"], timeout))
    if params.get("airflow_url"):
        found.extend(check_airflow(params["airflow_url"], timeout))
    if params.get("supervisor_config"):
        found.extend(check_supervisor(params["supervisor_config"], timeout))
    for name, url in sorted((params.get("http") or {}).items()):
        found.append(check_http(name, url, timeout))
    if params.get("prometheus_url"):
        found.extend(check_prometheus(params["prometheus_url"], timeout))
    if params.get("backups"):
        found.append(check_backups(params["backups"]))
    if params.get("cron"):
        found.append(up("cron", "a cron daemon runs the backup schedule") if cron_runs()
                     else down("cron", "no cron daemon runs: the backup schedule never fires (make start starts one)"))
    return found


def not_up(components):
    return [c for c in components if c["state"] != "up"]


def wait_until_up(params, seconds, clock=time.monotonic, sleep=time.sleep):
    """status() again every second until every component is up or the seconds have passed."""
    deadline = clock() + seconds
    while True:
        components = status(params)
        if not not_up(components) or clock() >= deadline:
            return components
        sleep(1)


ARGUMENT_SPEC = dict(
    postgres=dict(type="dict"),
    airflow_url=dict(type="str"),
    supervisor_config=dict(type="path"),
    http=dict(type="dict", default={}),
    prometheus_url=dict(type="str"),
    backups=dict(type="dict"),
    cron=dict(type="bool", default=False),
    timeout=dict(type="int", default=5),
    wait=dict(type="int", default=0),
)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
    )
    wait = module.params["wait"]
    try:
        components = wait_until_up(module.params, wait) if wait > 0 else status(module.params)
    except (ValueError, KeyError) as err:
        module.fail_json(msg="local_status: %s" % err)
    result = dict(changed=False, components=components,
                  down=[c["name"] for c in components if c["state"] == "down"])
    if wait > 0 and not_up(components):
        module.fail_json(msg="not up after %d s: %s" % (wait, "; ".join(
            "%s %s (%s)" % (c["name"], c["state"], c["detail"]) for c in not_up(components))), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
