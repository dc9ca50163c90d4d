"""Reading sources into pairs: files and formats (`formats/`, `sources.py`, `records.py`), and the
one writer that stores them (`loader.py` dispatches to `release_load.py` or `raw_load.py`; both use
`writing.py`)."""
