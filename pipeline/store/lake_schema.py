"""The workbench's schema on a DuckLake: the same tables and views as a file.

DuckLake has no PRIMARY KEY, UNIQUE or CHECK constraints, and since step 6
(m0006_keys_in_code.py) the file's schema has none either: the code keeps the rows unique
(pipeline.store.keys checks it). So a new lake gets each table of the migrated schema as it
is (keys.keyless_ddl: columns, types, defaults and NOT NULLs), recorded at the newest
version, and a lake behind the code is brought up by the same steps as a file
(schema.migrate), in the writer's transaction.
"""

from __future__ import annotations

import duckdb

from . import keys, schema


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Create or upgrade the schema in the caller's transaction; touch nothing when it is current
    (a write that only re-created the views would conflict with every other writer)."""
    if schema.current_version(con) is None:
        for ddl in keys.keyless_ddl():
            con.execute(ddl)
        for step in schema.steps():
            con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [step.version, step.name])
        schema.sync_properties(con)
        schema.apply_views(con)
    elif schema.pending(con):
        schema.migrate(con)
    else:
        schema.sync_properties(con)  # writes only when the registry changed
