"""A call journal whose file may not grow: the tests of an LLM job whose journal finds no room."""

from __future__ import annotations

from pipeline.llm import CallJournal


def cap_journal(monkeypatch, pages: int) -> dict:
    """Every CallJournal opened from now on may grow by `pages` pages only: past them SQLite
    refuses the write with SQLITE_FULL ("database or disk is full", its `max_page_count`), as a
    full disk does. Returns the setting: its "pages" set to None lifts the cap for the journals
    opened after."""
    real_init, room = CallJournal.__init__, {"pages": pages}

    def capped(self, path):
        real_init(self, path)
        if room["pages"] is not None:
            used = self.con.execute("PRAGMA page_count").fetchone()[0]
            self.con.execute(f"PRAGMA max_page_count = {used + room['pages']}")

    monkeypatch.setattr(CallJournal, "__init__", capped)
    return room
