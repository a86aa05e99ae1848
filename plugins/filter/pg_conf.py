# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""Render a mapping of PostgreSQL settings as postgresql.conf text."""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: pg_conf
short_description: A mapping of PostgreSQL settings as postgresql.conf lines
version_added: 0.1.0
description:
  - One line per setting, C(name = 'value'), sorted by name, values quoted as postgresql.conf
    wants them (single quotes doubled); booleans become C(on)/C(off).
  - The postgres role keeps its settings in one mapping and renders it with this filter for
    the Kubernetes ConfigMap and for the local target's file alike.
options:
  _input:
    description: Setting name to value.
    type: dict
    required: true
"""

EXAMPLES = r"""
content: "{{ {'shared_buffers': '512MB', 'archive_mode': true} | edp.platform.pg_conf }}"
# archive_mode = 'on'
# shared_buffers = '512MB'
"""

RETURN = r"""
_value:
  description: The postgresql.conf text, ending with a newline.
  type: str
"""

NAME = re.compile(r"^[a-z_][a-z0-9_.]*$")


def pg_conf(settings):
    lines = ["# Managed by edp.platform (postgres role): changes here are overwritten."]
    for name in sorted(settings):
        value = settings[name]
        if not NAME.match(str(name)):
            raise AnsibleFilterError("pg_conf: %r is not a PostgreSQL setting name" % (name,))
        if isinstance(value, bool):
            value = "on" if value else "off"
        lines.append("%s = '%s'" % (name, str(value).replace("'", "''")))
    return "\n".join(lines) + "\n"


class FilterModule:
    def filters(self):
        return {"pg_conf": pg_conf}
