"""Cached reads: one typed wrapper per `pipeline.queries` function, so pages call real
functions with real signatures (the database path is filled in).

Each wrapper is an st.cache_data keyed on the database path and `db.last_change` (the
file's modification time), so a rerun that only changes a widget reads nothing, and a
load, fit or new judge shows up on the next rerun. The connection itself is opened and
closed inside the query function: nothing is held open between reruns.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

import streamlit as st

from pipeline.store import db as dbmod
from pipeline.store.errors import DatabaseError
from pipeline.queries import catalog, dissection, raw_pairs, samples, shap, similarity, statistics
from pipeline.queries import models as models_mod
from pipeline.queries import status as status_mod

from .text import md_escape

P = ParamSpec("P")
R = TypeVar("R")
_CACHES: list = []


def db_path() -> str:
    """The database as --db names it: a file's path, or `ducklake:...` for a lake."""
    return dbmod.database_name()


_run = threading.local()  # this page run's change token (a script run has a thread of its own)


def start_run() -> None:
    """Read the change token once for this page run (layout.page calls this first): on a lake
    each read of it attaches the catalog (about a second), and every cached read asks for it."""
    path = db_path()
    _run.token = (path, dbmod.pinned_snapshot(), dbmod.last_change(path))


def _token(path: str) -> float:
    held = getattr(_run, "token", None)
    if held and held[:2] == (path, dbmod.pinned_snapshot()):
        return held[2]
    return dbmod.last_change(path)


def last_change() -> float:
    """The database's change token for this run (for caches of work the pages do themselves)."""
    return _token(db_path())


def stop_on_database_error(exc: Exception) -> None:
    """A database that a job is writing right now, that vanished mid-session, or that needs
    an upgrade stops the page with its one line instead of an exception."""
    st.info(f"{md_escape(exc)}.", icon=":material/folder_open:")
    st.stop()


def cached(fn: Callable[Concatenate[Any, P], R]) -> Callable[P, R]:
    """`fn(db, *args, **kwargs)` as `wrapper(*args, **kwargs)` on the app's database, cached
    until the file changes. The signature (less `db`) is the function's own."""

    def run(_what: str, path: str, token: float, *args, **kwargs):
        return fn(path, *args, **kwargs)

    # st.cache_data tells functions apart by qualified name and source: give each its own.
    run.__qualname__ = run.__name__ = f"cached_{fn.__module__}.{fn.__qualname__}".replace(".", "_")
    cache = st.cache_data(show_spinner=False, max_entries=256, ttl=6 * 3600)(run)
    _CACHES.append(cache)
    what = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        path = db_path()
        try:
            return cache(what, path, _token(path), *args, **kwargs)
        except DatabaseError as exc:
            stop_on_database_error(exc)
            raise  # not reached: st.stop() ends the run

    return call


# One line per data function the pages use.
status = cached(status_mod.status)
judges = cached(catalog.judges)
fitted_judges = cached(catalog.fitted_judges)
default_judges = cached(catalog.default_judges)
groups = cached(catalog.groups)
group_kinds = cached(catalog.group_kinds)
fitted_groups = cached(catalog.fitted_groups)
fit_runs = cached(catalog.fit_runs)
property_sets = cached(catalog.property_sets)
preference_probability = cached(dissection.preference_probability)
judge_across_groups = cached(dissection.judge_across_groups)
similarity_matrix = cached(similarity.similarity)
filter_options = cached(samples.filter_options)
filter_pair_ids = cached(samples.filter_pair_ids)
pair_list = cached(samples.pair_list)
pair_detail = cached(samples.pair_detail)
pair_shap = cached(shap.shap_for_pair)
shap_groups = cached(shap.shap_groups)
property_stats = cached(statistics.property_stats)
prerequisite_counts = cached(statistics.prerequisite_counts)
property_correlation = cached(statistics.property_correlation)
agreement = cached(statistics.agreement)
length_effect = cached(statistics.length_effect)
coverage = cached(statistics.coverage)
measure_summary = cached(statistics.measure_summary)
measure_histogram = cached(statistics.measure_histogram)
model_style = cached(statistics.model_style)
unannotated_count = cached(raw_pairs.unannotated_count)


def clear() -> None:
    """Forget every cached read (after this session wrote the database)."""
    _run.token = None  # the write made a new snapshot (or file): read the token again
    for cache in _CACHES:
        cache.clear()

# The Models page (pipeline.queries.models).
models = cached(models_mod.models)
model_win_rates = cached(models_mod.win_rates)
model_profile = cached(models_mod.profile)
model_comparison = cached(models_mod.compare)
