"""Cached, typed reads for the answers pages (Leaderboard, What if, judge differences):
one `data.cached` wrapper per function, as ui/data.py does for the other pages."""

from __future__ import annotations

import streamlit as st

from pipeline.answers import differences, forecasts
from pipeline.queries import leaderboard as qlb
from pipeline.queries import whatif as qwhat

from .data import cached, last_change

leaderboard_choices = cached(qlb.choices)
leaderboard_inputs = cached(qlb.inputs)
side_by_side = cached(qlb.side_by_side)
control_weights = cached(qlb.control_weights)
leaderboard_runs = cached(qlb.runs)
whatif_choices = cached(qwhat.choices)
forecast = cached(forecasts.forecast_frame)
judge_difference = cached(differences.judge_difference)
stored_transfers = cached(qwhat.stored_transfers)
references = cached(qwhat.references)


@st.cache_resource(show_spinner=False, max_entries=4, ttl=6 * 3600)
def _board(db: str, token: float, judge: str):
    """The judge's style board (its fit), kept across the page's models and scenarios: it is most
    of a forecast's time (a million battles: 15 of 20 s). Small: strengths, weights, covariance."""
    from pipeline.answers.style_transfer import style_board

    return style_board(db, judge)


def _transfer(db, judge: str, model: str, as_model: str | None, scale: dict | None):
    """A style transfer computed on demand, not stored (the CLI stores them)."""
    from pipeline.answers.style_transfer import style_transfer

    return style_transfer(db, judge=judge, model=model, as_model=as_model, scale=scale, store=False,
                          board=_board(db, last_change(), judge))


style_transfer = cached(_transfer)
