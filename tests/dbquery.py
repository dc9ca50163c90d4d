"""Reading a test database: one short read-only connection per query."""

from pipeline.store import db as dbmod


def rows(db, sql, params=None) -> list[tuple]:
    with dbmod.reading(db) as con:
        return con.execute(sql, list(params or [])).fetchall()


def scalar(db, sql, params=None):
    return rows(db, sql, params)[0][0]
