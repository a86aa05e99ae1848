# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""What the folders and files modules share: reading an entry's path, mode, owner and group,
and comparing them with what is on disk."""

from __future__ import annotations

import grp
import os
import pwd
import stat


def ownership(spec, check_mode=False):
    """(path, mode, uid or -1, gid or -1) of one entry; ValueError naming what is wrong.

    -1 leaves the owner or group as it is. In check mode an unknown user or group is None: an
    earlier task of the same run (ansible.builtin.user) would have made it.
    """
    path = spec["path"]
    if not os.path.isabs(path):
        raise ValueError("%s: the path must be absolute" % path)
    try:
        mode = int(spec["mode"], 8)
    except (TypeError, ValueError):
        raise ValueError("%s: mode %r is not an octal mode such as 0750" % (path, spec["mode"])) from None
    if not 0 <= mode <= 0o7777:
        raise ValueError("%s: mode %r is not an octal mode such as 0750" % (path, spec["mode"]))
    ids = []
    for what, key, lookup in (("user", "owner", lambda name: pwd.getpwnam(name).pw_uid),
                              ("group", "group", lambda name: grp.getgrnam(name).gr_gid)):
        try:
            ids.append(lookup(spec[key]) if spec.get(key) else -1)
        except KeyError:
            if not check_mode:
                raise ValueError("%s: no %s %r on this host" % (path, what, spec[key])) from None
            ids.append(None)
    return os.path.normpath(path), mode, ids[0], ids[1]


def attribute_differences(st, mode, uid, gid):
    """The mode, owner and group of a stat result that differ from those asked ({} when none)."""
    found = {}
    if stat.S_IMODE(st.st_mode) != mode:
        found["mode"] = "%04o" % stat.S_IMODE(st.st_mode)
    if uid is None or (uid != -1 and st.st_uid != uid):
        found["owner"] = st.st_uid
    if gid is None or (gid != -1 and st.st_gid != gid):
        found["group"] = st.st_gid
    return found
