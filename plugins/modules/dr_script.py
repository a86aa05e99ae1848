#!/usr/bin/python
# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Run one command of the dr role's edp-backup.sh and report a failure in the script's own words."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: dr_script
short_description: Run a command of edp-backup.sh, the dr role's backup script, on the local target
version_added: 0.2.0
description:
  - Runs C(bash SCRIPT COMMAND ARGS...) with the environment of the task (the dr role passes
    the script's settings with the C(environment) keyword).
  - When the script fails, the task fails with one line - the script's own C(error:) message,
    which says what failed and what to do - instead of a dump of the command's output.
  - The commands that only read (C(newest), C(pitr-plan)) never report C(changed); the others
    always do. In check mode the others are not run.
author:
  - edp.platform contributors
options:
  script:
    description: The path of edp-backup.sh.
    type: path
    required: true
  command:
    description: The script's command.
    type: str
    required: true
    choices: [dump, basebackup, restore, drill, newest, pitr-plan, pitr-prepare, pitr-finish]
  args:
    description: The command's arguments (an archive, a point in time).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Find the newest dump
  edp.platform.dr_script:
    script: /var/lib/edp/demo/config/dr/edp-backup.sh
    command: newest
  environment: "{{ dr_local_env }}"
  register: newest
"""

RETURN = r"""
result:
  description: The script's last line of output, parsed, when it is JSON (what the commands report).
  returned: success
  type: dict
stdout_lines:
  description: The script's output, line by line.
  returned: always
  type: list
  elements: str
"""

import json
import re
import subprocess

from ansible.module_utils.basic import AnsibleModule

READ_ONLY = {"newest", "pitr-plan"}
ERROR = re.compile(r"edp-backup: error: (.*)$")


def failure_message(command, stderr, rc):
    """The script's last error line, or its last line of any kind, as one message."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [match.group(1) for match in map(ERROR.search, lines) if match]
    reason = errors[-1] if errors else (lines[-1] if lines else "exit status %d and no message" % rc)
    # A tool's own message (pg_dump, pg_restore) is the line before the script's: keep it.
    tools = [line for line in lines if "edp-backup: " not in line]
    if errors and tools and "message is above" in reason:
        reason = reason.replace("its message is above", tools[-1])
    return "edp-backup.sh %s failed: %s" % (command, reason)


def last_json(lines):
    try:
        value = json.loads(lines[-1]) if lines else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


ARGUMENT_SPEC = dict(
    script=dict(type="path", required=True),
    command=dict(type="str", required=True,
                 choices=["dump", "basebackup", "restore", "drill", "newest", "pitr-plan",
                          "pitr-prepare", "pitr-finish"]),
    args=dict(type="list", elements="str", default=[]),
)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
    )
    command = module.params["command"]
    changes = command not in READ_ONLY
    if changes and module.check_mode:
        module.exit_json(changed=True, stdout_lines=[], msg="not run in check mode")
    proc = subprocess.run(["bash", module.params["script"], command] + module.params["args"],
                          capture_output=True, text=True)
    lines = proc.stdout.splitlines()
    if proc.returncode != 0:
        module.fail_json(msg=failure_message(command, proc.stderr, proc.returncode), rc=proc.returncode)
    module.exit_json(changed=changes, stdout_lines=lines, result=last_json(lines))


if __name__ == "__main__":
    main()
