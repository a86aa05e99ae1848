#!/usr/bin/python
# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Make sure a list of folders exists with their modes and owners, in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: folders
short_description: Make sure many folders exist, each with its mode, owner and group, in one call
version_added: 0.2.0
description:
  - What a loop of M(ansible.builtin.file) with O(ansible.builtin.file#module:state=directory)
    does, for every folder in one module run. The local target's roles lay out a tenant's home
    with it; a loop costs about half a second per folder, most of it starting the module, which
    made the layout the slowest part of a rerun that changes nothing.
  - Missing parents are made as C(mkdir -p) makes them. A path that exists and is not a folder,
    an unknown user or group and a mode that is not octal are errors, found before any folder is
    made.
  - Check mode and diff mode are supported. In check mode a user or group that does not exist yet
    is reported as a change, not an error (an earlier task of the same run would create it).
author:
  - edp.platform contributors
options:
  folders:
    description: The folders, in the order they are made.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: The folder's absolute path.
        type: path
        required: true
      mode:
        description: Its permission bits, as an octal string such as V(0750).
        type: str
        required: true
      owner:
        description: Its owner's name (left as it is when not given).
        type: str
      group:
        description: Its group's name (left as it is when not given).
        type: str
"""

EXAMPLES = r"""
- name: Create the server's folders
  edp.platform.folders:
    folders:
      - {path: /var/lib/edp/demo/data/postgres, mode: "0700", owner: postgres, group: postgres}
      - {path: /var/lib/edp/demo/config/secrets, mode: "0700", owner: root, group: root}
"""

RETURN = r"""
changed_folders:
  description: The paths made or whose mode, owner or group was set.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.edp.platform.plugins.module_utils.local_paths import attribute_differences, ownership


def wanted(spec, check_mode=False):
    """(path, mode, uid, gid) of one entry (local_paths.ownership), which must not be a file."""
    path, mode, uid, gid = ownership(spec, check_mode)
    if os.path.lexists(path) and not os.path.isdir(path):
        raise ValueError("%s exists and is not a folder" % path)
    return path, mode, uid, gid


def differences(path, mode, uid, gid):
    """What differs between the folder and what is asked ({} when nothing; None when missing)."""
    try:
        return attribute_differences(os.lstat(path), mode, uid, gid)
    except FileNotFoundError:
        return None


def make(path, mode, uid, gid):
    if not os.path.isdir(path):
        os.makedirs(path, mode=mode)
    os.chown(path, uid, gid)
    os.chmod(path, mode)  # makedirs applies the umask


ARGUMENT_SPEC = dict(folders=dict(type="list", elements="dict", required=True, options=dict(
    path=dict(type="path", required=True),
    mode=dict(type="str", required=True),
    owner=dict(type="str"),
    group=dict(type="str"),
)))


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
    )
    try:
        asked = [wanted(spec, module.check_mode) for spec in module.params["folders"]]
    except ValueError as err:
        module.fail_json(msg="folders: %s" % err)
    changed, before, after = [], {}, {}
    for path, mode, uid, gid in asked:
        found = differences(path, mode, uid, gid)
        if found == {}:
            continue
        changed.append(path)
        before[path] = "absent" if found is None else found
        after[path] = "%04o" % mode
        if not module.check_mode:
            try:
                make(path, mode, uid, gid)
            except OSError as err:
                module.fail_json(msg="folders: %s: %s" % (path, err.strerror), changed_folders=changed)
    module.exit_json(changed=bool(changed), changed_folders=changed,
                     diff={"before": before, "after": after} if module._diff and changed else {})


if __name__ == "__main__":
    main()
