"""The answers commands: `leaderboard`, `whatif` and `differ` (registered on the CLI app by cli.py).

Every value that comes from the data (judge, model, property names) goes into Rich tables
as `Text`, which Rich never reads as markup.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from ..console import plain_console
from .base import AtOption, DbOption, app, checked_name, checked_names, one_line, refuse_empty_groups

out = plain_console()  # markup, emoji codes and highlighting off: names print as they are


def _num(value, fmt: str = "{:+.3f}") -> str:
    return "-" if value is None else fmt.format(value)


def _ci(low, high, fmt: str = "{:+.2f}") -> str:
    return "-" if low is None or high is None else f"[{fmt.format(low)}, {fmt.format(high)}]"


@app.command()
def leaderboard(
        db: DbOption = None,
        judge: Annotated[Optional[list[str]], typer.Option("--judge", help="Only this judge (repeatable; default: every labelled judge).")] = None,
        group: Annotated[str, typer.Option(help="Group of pairs ('All': every pair).")] = "All",
        control: Annotated[str, typer.Option(help="none, a property set (paper, style, custom, paper+style), or P1,P2,...")] = "none",
        min_battles: Annotated[int, typer.Option(help="Leave out models with fewer battles (counted in leaderboard_runs).")] = 10,
        top: Annotated[int, typer.Option(min=1, help="Models shown per judge (all are stored).")] = 30,
        ties: Annotated[str, typer.Option(help="drop (default) or half: a tie is half a win for each side (LMArena).")] = "drop",
        ci: Annotated[str, typer.Option(help="Interval: hessian (default), sandwich or bootstrap.")] = "hessian",
        bootstrap: Annotated[int, typer.Option(help="Resamples of --ci bootstrap (seeded).")] = 100,
        control_form: Annotated[str, typer.Option(help="sign (the -1/0/+1 features) or continuous (LMArena's normalised measure differences).")] = "sign") -> None:
    """Bradley-Terry strengths of the response models per judge, raw or controlled for properties."""
    from ..answers.leaderboard import LeaderboardError, build_leaderboard

    judge, group = checked_names(judge, "judge"), checked_name(group, "group")
    refuse_empty_groups(db, [group])
    with one_line(LeaderboardError, then="nothing was written"):
        report = build_leaderboard(db, judges=judge, group=group, control=control, min_battles=min_battles,
                                   ties=ties, ci=ci, bootstrap=bootstrap, control_form=control_form)
    controlled = report.control != "none"
    for board in report.boards:
        if board.control != report.control:
            continue
        title = Text(f"{board.judge} · {report.group} · control {report.control}")
        if board.result is None:
            out.print(title, Text(f": no leaderboard ({board.note})"))
            continue
        r = board.result
        table = Table(title=title, title_justify="left")
        for col in ["rank", "model", "strength", "95% interval", "elo", "battles"] + (["moved"] if controlled else []):
            table.add_column(col, justify="left" if col == "model" else "right", overflow="fold")
        order = sorted(range(len(r.models)), key=lambda i: (r.rank[i], r.models[i]))
        elo = _elo(r.strength)
        for i in order[:top]:
            row = [str(r.rank[i]), Text(r.models[i]), _num(r.strength[i]), _ci(r.ci_low[i], r.ci_high[i]),
                   f"{elo[i]:.0f}", str(r.n_battles[i])]
            if controlled:
                moved = int(board.rank_change[i])
                row.append(Text(f"{moved:+d}" if moved else "0", style="blue" if moved > 0 else "dark_orange" if moved else ""))
            table.add_row(*row)
        out.print(table)
        if len(order) > top:
            out.print(f"  ... {len(order) - top} more models (see the leaderboard table)")
        if r.left_out:
            out.print(Text(f"  left out (under {report.min_battles} battles, or not connected): {len(r.left_out)} "
                           f"models: " + ", ".join(sorted(r.left_out)[:8]) + (" ..." if len(r.left_out) > 8 else "")))
        if controlled:
            low, high = r.weight_ci
            weights = sorted((i for i in range(len(r.covariates)) if r.weight[i] == r.weight[i]),
                             key=lambda i: -abs(r.weight[i]))
            out.print(Text("  control weights (log-odds): " + "; ".join(
                f"{r.covariates[i]} {r.weight[i]:+.2f} [{low[i]:+.2f}, {high[i]:+.2f}]" for i in weights[:8])
                + (" ..." if len(weights) > 8 else "")))
            flat = [c for c, w in zip(r.covariates, r.weight) if w != w]
            if flat:
                out.print(Text(f"  no battle differs on (no weight): {', '.join(flat)}"))
            for line in board.dropped:
                out.print(Text(f"  control {line}"))
            if r.heldout_log_loss is not None and board.heldout_raw is not None:
                out.print(Text(f"  held-out log loss ({report.conventions.folds}-fold): controlled "
                               f"{r.heldout_log_loss:.4f}, raw {board.heldout_raw:.4f} on the same battles"))
        if board.note:
            out.print(Text(f"  note: {board.note}"))
    out.print(report.summary())
    conv = report.conventions
    out.print(Text(f"ties: {conv.ties}" + (f" ({sum(b.n_ties for b in report.boards if b.control == 'none')} "
                                            "ties as half a win)" if conv.ties == "half" else "")
                   + f"; interval: {conv.ci}" + (f" ({conv.bootstrap} resamples)" if conv.ci == "bootstrap" else "")
                   + (f"; control form: {conv.form}" if controlled else "")))
    out.print("strength: log-odds, centred (sum 0), 95% interval; elo = 400/ln(10) · strength + 1000")


@app.command()
def whatif(
        judge: Annotated[str, typer.Option("--judge", help="The judge whose fit predicts the choices.")],
        model: Annotated[str, typer.Option("--model", help="The response model whose responses would change.")],
        db: DbOption = None,
        group: Annotated[str, typer.Option(help="Group of the fit and of the pairs ('All': every pair).")] = "All",
        properties: Annotated[str, typer.Option("--properties", help="Property set of the fit (paper, style, paper+style, custom).")] = "paper",
        top: Annotated[int, typer.Option(min=1, help="Properties shown each way.")] = 8,
        as_model: Annotated[Optional[str], typer.Option("--as", help="Forecast MODEL with this model's measured style.")] = None,
        scale: Annotated[Optional[str], typer.Option("--scale", help="Forecast MODEL with its measures scaled, e.g. tokens=1.5.")] = None,
        control_form: Annotated[str, typer.Option(help="Controls of the --as/--scale board: continuous (default) or sign.")] = "continuous") -> None:
    """Forecast MODEL's win rate under JUDGE: with another model's style (--as), scaled measures (--scale),
    or the upper bound of being better (more) or worse (less) on one property in every pair."""
    if as_model is not None or scale is not None:
        _style_transfer(db, judge, model, group, as_model, scale, control_form)
        return
    from ..answers.forecasts import ForecastError, what_if

    judge, group = checked_name(judge, "judge"), checked_name(group, "group")
    refuse_empty_groups(db, [group])
    with one_line(ForecastError, then="nothing was written"):
        report = what_if(db, judge=judge, model=model, group=group, property_set=properties)
    base = report.rows[0].win_rate if report.rows else float("nan")
    out.print(Text(f"{model} under {judge} ({group}, {properties}): predicted win rate {100 * base:.1f}% "
                   f"over {report.n_pairs} pairs"))
    for direction, word, rows in (("better", "more", report.ranked("better")[:top]),
                                  ("worse", "less", report.ranked("worse")[::-1][:top])):
        table = Table(title=f"upper bound: if its response had {word} of one property than the other in every pair",
                      title_justify="left")
        for col in ("property", "win-rate shift (points)", "95% interval", "forecast win rate"):
            table.add_column(col, justify="left" if col == "property" else "right", overflow="fold")
        for r in rows:
            table.add_row(Text(r.property), _num(100 * r.shift, "{:+.1f}"),
                          _ci(None if r.ci_low is None else 100 * r.ci_low,
                              None if r.ci_high is None else 100 * r.ci_high, "{:+.1f}"),
                          f"{100 * (r.win_rate + r.shift):.1f}%")
        out.print(table)
    out.print("an upper bound from the judge's fitted weights (a change on every pair), not a measured run; "
              "`--as MODEL` or `--scale tokens=1.5` forecast a change a model could reach; stored in forecasts")


def _style_transfer(db, judge, model, group, as_model, scale, form) -> None:
    from ..answers.style_transfer import TransferError, parse_scale, style_transfer

    with one_line(TransferError, then="nothing was written"):
        if as_model is not None and scale is not None:
            raise TransferError("give one of --as and --scale, not both")
        factors = parse_scale(scale) if scale is not None else None
        t = style_transfer(db, judge=judge, model=model, as_model=as_model, scale=factors, group=group, form=form)
    out.print(Text(f"{model} under {judge} ({group}), {t.scenario}: measured win rate {100 * t.observed:.1f}%, "
                   f"forecast {100 * t.forecast:.1f}% [{100 * t.ci_low:.1f}, {100 * t.ci_high:.1f}] "
                   f"over {t.n_pairs} battles"))
    if t.observed_as is not None:
        out.print(Text(f"{as_model}'s own measured win rate under {judge}: {100 * t.observed_as:.1f}%"))
    from ..answers.board_controls import MEASURES as STYLE_MEASURES

    inert = [m for m in (factors or {}) if m not in STYLE_MEASURES]
    if inert:
        out.print(Text(f"note: {', '.join(inert)} enter no style feature, so scaling them cannot move the forecast"))
    out.print("forecast by the judge's style-controlled board (strengths held fixed, only the measured style "
              "changes); stored in style_transfers")


@app.command()
def differ(
        judge_a: Annotated[str, typer.Argument(help="First judge.")],
        judge_b: Annotated[str, typer.Argument(help="Second judge.")],
        db: DbOption = None,
        group: Annotated[str, typer.Option(help="Group of both fits.")] = "All",
        properties: Annotated[str, typer.Option("--properties", help="Property set of both fits.")] = "paper",
        top: Annotated[int, typer.Option(min=1, help="Properties shown.")] = 10,
        at: AtOption = None) -> None:
    """How two judges differ: the properties where their weights differ most (the judge_difference view)."""
    from ..answers.differences import DifferenceError, judge_difference
    from ..store import db as dbmod

    dbmod.pin_snapshot(at)
    judge_a, judge_b = checked_name(judge_a, "judge"), checked_name(judge_b, "judge")
    group = checked_name(group, "group")
    refuse_empty_groups(db, [group])
    with one_line(DifferenceError):
        df = judge_difference(db, judge_a, judge_b, group=group, property_set=properties)
    table = Table(title=Text(f"{judge_a} minus {judge_b} · {group} · {properties}"), title_justify="left")
    for col in ("property", "difference", "95% interval", "P(> 0)"):
        table.add_column(col, justify="left" if col == "property" else "right", overflow="fold")
    for row in df.head(top).itertuples():
        p = None if row.prob_positive != row.prob_positive else row.prob_positive
        table.add_row(Text(row.property), _num(row.difference), _ci(_nan(row.ci_low), _nan(row.ci_high)),
                      _num(p, "{:.3f}"))
    out.print(table)
    out.print("difference of weights (log-odds), normal approximation; ranked by size")


def _nan(value):
    return None if value is None or value != value else value


__all__ = ["leaderboard", "whatif", "differ"]


def _elo(strength):
    """The Elo-like scale (`bradley_terry.elo`). Imported here, when a board is shown: the fitting
    module brings scipy (0.3 s), which every other command (a load) would pay at start-up."""
    from ..model.bradley_terry import elo

    return elo(strength)
