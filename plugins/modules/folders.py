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
    is reported as a change, not an error: an earlier task of the same run would create it.
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

import grp
import os
import pwd
import stat

from ansible.module_utils.basic import AnsibleModule


def wanted(spec, check_mode=False):
    """(path, mode, uid or -1, gid or -1) of one entry; ValueError naming what is wrong. In check
    mode an unknown user or group is None: an earlier task of the run would have made it."""
    path = spec["path"]
    if not os.path.isabs(path):
        raise ValueError("%s: the path must be absolute" % path)
    try:
        mode = int(spec["mode"], 8)
    except (TypeError, ValueError):
        raise ValueError("%s: mode %r is not an octal mode such as 0750" % (path, spec["mode"])) from None
    if not 0 <= mode <= 0o7777:
        raise ValueError("%s: mode %r is not an octal mode such as 0750" % (path, spec["mode"]))
    try:
        uid = pwd.getpwnam(spec["owner"]).pw_uid if spec.get("owner") else -1
    except KeyError:
        if not check_mode:
            raise ValueError("%s: no user %r on this host" % (path, spec["owner"])) from None
        uid = None
    try:
        gid = grp.getgrnam(spec["group"]).gr_gid if spec.get("group") else -1
    except KeyError:
        if not check_mode:
            raise ValueError("%s: no group %r on this host" % (path, spec["group"])) from None
        gid = None
    if os.path.lexists(path) and not os.path.isdir(path):
        raise ValueError("%s exists and is not a folder" % path)
    return os.path.normpath(path), mode, uid, gid


def differences(path, mode, uid, gid):
    """What differs between the folder and what is asked ({} when nothing; None when missing)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    found = {}
    if stat.S_IMODE(st.st_mode) != mode:
        found["mode"] = "%04o" % stat.S_IMODE(st.st_mode)
    if uid is None or (uid != -1 and st.st_uid != uid):
        found["owner"] = st.st_uid
    if gid is None or (gid != -1 and st.st_gid != gid):
        found["group"] = st.st_gid
    return found


def make(path, mode, uid, gid):
    if not os.path.isdir(path):
        os.makedirs(path, mode=mode)
    os.chown(path, uid, gid)
    os.chmod(path, mode)  # makedirs applies the umask


def main():
    module = AnsibleModule(
        argument_spec=dict(folders=dict(type="list", elements="dict", required=True, options=dict(
            path=dict(type="path", required=True),
            mode=dict(type="str", required=True),
            owner=dict(type="str"),
            group=dict(type="str"),
        ))),
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
