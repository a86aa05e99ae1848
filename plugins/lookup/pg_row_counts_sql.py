# Copyright: edp.platform contributors
# Apache License 2.0 (see LICENSE)
"""The query that counts the rows of a database's tables, for the backup script.

The dr role writes it beside edp-backup.sh (ConfigMap dr-scripts on Kubernetes, a file on the
local target), so the script's manifest and drill count with the very text pg_dump_verify runs
(module_utils/pg_archive.py): the counts they compare cannot drift apart.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: pg_row_counts_sql
short_description: The SQL query that counts the rows of every table pg_dump writes
version_added: 0.1.0
description:
  - Returns the query (one item) that the backup's manifest, the drill and C(edp.platform.pg_dump_verify)
    use to count rows - C(count(*) FROM ONLY) of every ordinary table and partition of the user
    schemas, not of extension members - as rows of C(name) (C(schema.table)) and C(rows).
  - It ends without a semicolon, so it can be used as a subquery.
author:
  - edp.platform contributors
options: {}
"""

EXAMPLES = r"""
- name: Install the query beside the backup script
  ansible.builtin.copy:
    content: "{{ lookup('edp.platform.pg_row_counts_sql') }}"
    dest: /opt/edp-dr/edp-row-counts.sql
    mode: "0644"
"""

RETURN = r"""
_raw:
  description: The query, one item.
  type: list
  elements: str
"""

from ansible.plugins.lookup import LookupBase

from ansible_collections.edp.platform.plugins.module_utils.pg_archive import ROW_COUNTS_SQL


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        return [ROW_COUNTS_SQL]
