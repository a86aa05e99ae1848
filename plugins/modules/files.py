#!/usr/bin/python
# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Make sure a list of files holds the given contents, modes and owners, in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: files
short_description: Write many files, each with its content, mode, owner and group, in one call
version_added: 0.2.0
description:
  - What a series of M(ansible.builtin.copy) tasks with O(ansible.builtin.copy#module:content) does
    (or M(ansible.builtin.template), the content then coming from the
    P(ansible.builtin.template#lookup) lookup), for every file in one module run. The local
    target's roles write a tenant's configuration with it. Each C(copy) or C(template) costs about
    half a second even when nothing changes (a module run to compare); they were most of a rerun
    that changes nothing.
  - A file is replaced atomically (a temporary file beside it, then a rename), so a process never
    reads half of it. Only what differs is written; mode, owner and group alone are set in place.
  - Every entry is checked before any file is written - an absolute path whose folder exists and
    that is not a folder, an octal mode, a known user and group - and a file with O(files[].validate)
    is written only when its command accepts the new content. An error names the file.
  - Check mode and diff mode are supported. In check mode a user or group that does not exist yet
    is reported as a change, not an error (an earlier task of the same run would create it).
author:
  - edp.platform contributors
options:
  files:
    description: The files, in the order they are written.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: The file's absolute path. Its folder must exist.
        type: path
        required: true
      content:
        description: What the file holds, exactly (no newline is added).
        type: str
        required: true
      mode:
        description: Its permission bits, as an octal string such as V(0640).
        type: str
        required: true
      owner:
        description: Its owner's name (root's when the file is new and none is given).
        type: str
      group:
        description: Its group's name.
        type: str
      force:
        description:
          - V(false) keeps the content of a file that exists (a secret generated once); its mode,
            owner and group are still set.
        type: bool
        default: true
      secret:
        description:
          - The content is never shown, not even in diff mode. The task itself should have
            C(no_log) as well, since Ansible logs a module's arguments at high verbosity.
        type: bool
        default: false
      validate:
        description:
          - A command that checks the new content before it replaces the file, V(%s) standing for
            a temporary file that holds it, as in M(ansible.builtin.template). Run without a shell.
          - Check mode runs it too, unless the command is not installed yet.
        type: str
"""

EXAMPLES = r"""
- name: Write Prometheus' files
  edp.platform.files:
    files:
      - path: /var/lib/edp/demo/config/monitoring/prometheus.yml
        content: "{{ lookup('ansible.builtin.template', 'prometheus.yml.j2') }}"
        mode: "0644"
        validate: promtool check config --syntax-only %s
      - path: /var/lib/edp/demo/config/monitoring/blackbox.yml
        content: "{{ lookup('ansible.builtin.file', 'blackbox.yml', rstrip=false) }}"
        mode: "0644"
  register: monitoring_files

- name: Reload Prometheus when its configuration changed
  ansible.builtin.command: supervisorctl signal HUP prometheus
  when: "'/var/lib/edp/demo/config/monitoring/prometheus.yml' in monitoring_files.changed_files"
"""

RETURN = r"""
changed_files:
  description: The paths written, or whose mode, owner or group was set.
  returned: always
  type: list
  elements: str
"""

import os
import shlex
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible_collections.edp.platform.plugins.module_utils.atomic_write import write_atomically
from ansible_collections.edp.platform.plugins.module_utils.local_paths import attribute_differences, ownership


def wanted(spec, check_mode=False):
    """The entry with its path, mode, uid and gid read (local_paths.ownership); ValueError naming
    what is wrong."""
    path, mode, uid, gid = ownership(spec, check_mode)
    if os.path.isdir(path) and not os.path.islink(path):
        raise ValueError("%s is a folder" % path)
    if not os.path.isdir(os.path.dirname(path)) and not check_mode:
        raise ValueError("%s: its folder does not exist" % path)
    if spec.get("validate") and "%s" not in spec["validate"]:
        raise ValueError("%s: validate %r has no %%s for the file to check" % (path, spec["validate"]))
    return dict(spec, path=path, mode=mode, uid=uid, gid=gid, data=to_bytes(spec["content"]))


def differences(entry):
    """(the old content when it differs, else None; what differs, None when the file is absent).

    A symbolic link in the file's place is replaced, never followed: a folder another user may
    write to must not lead this module (root) to write or chmod what the link points to."""
    try:
        st = os.lstat(entry["path"])
    except FileNotFoundError:
        return None, None
    if stat.S_ISLNK(st.st_mode):
        return to_bytes("(a symbolic link to %s)\n" % os.readlink(entry["path"])), {"content": True}
    if not stat.S_ISREG(st.st_mode):
        raise ValueError("%s exists and is not a regular file" % entry["path"])
    found = attribute_differences(st, entry["mode"], entry["uid"], entry["gid"])
    old = None
    if entry["force"]:
        with open(entry["path"], "rb") as handle:
            current = handle.read()
        if current != entry["data"]:
            found["content"] = True
            old = current
    return old, found


def validate(module, entry):
    """Run the entry's validate command on its new content, in a temporary file."""
    fd, temp = tempfile.mkstemp(suffix="-" + os.path.basename(entry["path"]))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(entry["data"])
        rc, out, err = module.run_command(shlex.split(entry["validate"].replace("%s", shlex.quote(temp))))
    finally:
        os.unlink(temp)
    if rc != 0:
        raise ValueError("%s: %s refused the new content: %s" % (
            entry["path"], entry["validate"].split()[0], (err or out).strip()[-1000:]))


def write(entry, found):
    """Replace the file by a complete new one, or set only the attributes that differ."""
    path = entry["path"]
    uid = -1 if entry["uid"] is None else entry["uid"]
    gid = -1 if entry["gid"] is None else entry["gid"]
    if found is not None and "content" not in found:
        os.chown(path, uid, gid)
        os.chmod(path, entry["mode"])
        return
    write_atomically(path, entry["data"], mode=entry["mode"], uid=uid, gid=gid, durable=True)


def diff(entry, old, found):
    """Ansible's diff of one file; a secret's content is never shown."""
    def text(data):
        return "(secret: not shown)\n" if entry["secret"] else to_text(data, errors="surrogate_or_replace")
    if found is None:
        before, after = "", text(entry["data"])
    elif "content" in found:
        before, after = text(old), text(entry["data"])
    else:
        before = "".join("%s: %s\n" % item for item in sorted(found.items()))
        after = "mode: %04o\n" % entry["mode"]
    return {"before_header": entry["path"], "after_header": entry["path"], "before": before, "after": after}


ARGUMENT_SPEC = dict(files=dict(type="list", elements="dict", required=True, options=dict(
    path=dict(type="path", required=True),
    content=dict(type="str", required=True),
    mode=dict(type="str", required=True),
    owner=dict(type="str"),
    group=dict(type="str"),
    force=dict(type="bool", default=True),
    secret=dict(type="bool", default=False),
    validate=dict(type="str"),
)))


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
    )
    try:
        asked = [wanted(spec, module.check_mode) for spec in module.params["files"]]
        # What differs, and every new content validated, before the first file is written.
        plan = [(entry,) + differences(entry) for entry in asked]
        plan = [(entry, old, found) for entry, old, found in plan if found != {}]
        for entry, _old, found in plan:
            if entry.get("validate") and (found is None or "content" in found):
                # In check mode on a new host the checking command may not be installed yet.
                if not module.check_mode or module.get_bin_path(shlex.split(entry["validate"])[0]):
                    validate(module, entry)
    except ValueError as err:
        module.fail_json(msg="files: %s" % err)
    except OSError as err:
        module.fail_json(msg="files: %s: %s" % (err.filename, err.strerror))
    changed = [entry["path"] for entry, _old, _found in plan]
    for done, (entry, _old, found) in enumerate(plan):
        if not module.check_mode:
            try:
                write(entry, found)
            except OSError as err:
                module.fail_json(msg="files: %s: %s" % (entry["path"], err.strerror), changed_files=changed[:done])
    module.exit_json(changed=bool(changed), changed_files=changed,
                     diff=[diff(entry, old, found) for entry, old, found in plan] if module._diff else [])


if __name__ == "__main__":
    main()
