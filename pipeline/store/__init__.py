"""Storage: the DuckDB file (`db.py`: readers, the writer lock, snapshots), its schema and
migrations (`schema/`), and the kinds of database error (`errors.py`)."""
