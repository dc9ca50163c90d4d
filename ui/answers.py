"""Cached, typed reads for the answers pages (Leaderboard, What if, judge differences):
one `data.cached` wrapper per function, as ui/data.py does for the other pages."""

from __future__ import annotations

from pipeline.answers import differences, forecasts
from pipeline.queries import leaderboard as qlb
from pipeline.queries import whatif as qwhat

from .data import cached

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


def _transfer(db, judge: str, model: str, as_model: str | None, scale: dict | None):
    """A style transfer computed on demand, not stored (the CLI stores them)."""
    from pipeline.answers.style_transfer import style_transfer

    return style_transfer(db, judge=judge, model=model, as_model=as_model, scale=scale, store=False)


style_transfer = cached(_transfer)
