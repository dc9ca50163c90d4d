"""Heavy imports done once per server process, in a background thread, after the first page.

shap (about 3 s) and openai (about 1 s) would otherwise be imported on the user's first
click on Samples & SHAP or Annotate. Home.py starts the thread when its first run ends: a
thread started before it competed with the first page's own imports (pandas, polars, duckdb)
for the interpreter and made the first visit about 15% slower. A page that needs one before the thread is done just
waits for Python's import lock: never twice, never a half-imported module.
"""

from __future__ import annotations

import importlib
import threading

MODULES = ("shap", "openai", "pipeline.annotation")
_started = threading.Event()
_done = threading.Event()
_lock = threading.Lock()


def _import_all() -> None:
    try:
        for name in MODULES:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - a page that needs it reports the problem itself
                pass
    finally:
        _done.set()


def start() -> None:
    """Start the background imports (a no-op after the first call in this process)."""
    with _lock:
        if _started.is_set():
            return
        _started.set()
    threading.Thread(target=_import_all, name="warm-imports", daemon=True).start()


def wait(timeout: float | None = None) -> bool:
    """Wait until the imports are done (for benchmarks); True when they are."""
    return _done.wait(timeout)
