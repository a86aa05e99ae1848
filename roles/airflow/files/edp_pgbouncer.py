# Managed by edp.platform (airflow role).
"""asyncpg's connect arguments for Airflow's async engine behind PgBouncer's transaction pooling.

Airflow reads ASYNC_CONNECT_ARGS through ``[database] sql_alchemy_connect_args_async``; this file
sits in AIRFLOW_HOME/config, which Airflow puts on its path. In transaction pooling a client gets
a server connection per transaction, so a prepared statement kept by name on one connection may be
missing on the next, or its name taken there by another client's. asyncpg then keeps no statement
cache, and names each statement afresh (SQLAlchemy's asyncpg dialect: "Prepared Statement Name
with PGBouncer").
"""

import uuid


def _statement_name():
    return "__asyncpg_%s__" % uuid.uuid4()


ASYNC_CONNECT_ARGS = {"statement_cache_size": 0, "prepared_statement_name_func": _statement_name}
