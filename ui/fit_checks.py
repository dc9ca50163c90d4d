"""The Dissection page's fit checks: which weights to show (plain, or at equal models),
accuracy and log loss beside their baselines, and the layout warnings."""

from __future__ import annotations

import streamlit as st

from pipeline.model.adjusted import ADJUST_MODELS, adjusted_set
from pipeline.queries import fit_checks
from ui import state
from ui.data import cached
from ui.text import md_escape

checks = cached(fit_checks.checks)


def choose_set(df, pset: str, *, key: str) -> str:
    """The property set to show: the adjusted one by default when the layout calls for it
    (and it was fitted), with the reason in one sentence; a toggle shows the other."""
    if not fit_checks.has_adjusted(df, pset):
        if fit_checks.calls_for_adjusting(df, pset):
            st.caption(f"To see these weights at equal response models, run `python -m pipeline fit --properties "
                       f"{md_escape(pset)} --adjust models`.")
        return pset
    called = fit_checks.calls_for_adjusting(df, pset)
    on = state.toggle("Weights at equal models", key=key, default=called,
                      help="Fitted together with the response models' strengths (fit --adjust models), as the "
                           "controlled leaderboard does: a model's own quality is not read as a taste for the "
                           "properties it differs on.")
    if on and called:
        st.caption(md_escape(fit_checks.why_adjusted(df, pset)))
    return adjusted_set(pset, ADJUST_MODELS) if on else pset


def show_runs(df, shown_set: str) -> bool:
    """Pairs, accuracy and log loss beside their baselines, and the warnings; False when the
    runs have no baselines (fitted before they existed, or imported)."""
    table = fit_checks.run_table(df, shown_set)
    if table.empty or table["baseline_accuracy"].isna().all():
        return False
    st.caption("Held-out accuracy and log loss, each beside the baseline that always predicts the judge's "
               "more frequent choice (same folds). Beat the baseline, or the properties explain little.")
    st.dataframe(table, hide_index=True, column_config={
        "n_pairs": "pairs fitted",
        "accuracy": st.column_config.NumberColumn("held-out accuracy", format="percent"),
        "baseline": "baseline",
        "baseline_accuracy": st.column_config.NumberColumn("baseline accuracy", format="percent"),
        "log_loss": st.column_config.NumberColumn("held-out log loss", format="%.3f"),
        "baseline_log_loss": st.column_config.NumberColumn("baseline log loss", format="%.3f")})
    for judge, text in fit_checks.warnings(df, shown_set):
        st.warning(f"{md_escape(judge)}: {md_escape(text)}", icon=":material/warning:")
    return True


__all__ = ["checks", "choose_set", "show_runs"]
