"""Printing to the terminal without letting printed values change what is printed (or raise).

Rich reads `[bold]...[/]` in strings as markup. A judge called `[/bold]` would raise a
MarkupError after the command had already written its data, and `[red]x[/red]` would
lose its brackets. Rich also replaces emoji codes: `rev:thumbs_up:2` would print as
`rev👍2`, a name that does not exist. So:
- `console` (and every console made by `plain_console`) has markup, emoji codes and
  highlighting off: a plain `console.print(text)` shows text exactly as it is;
- `say(template, **values)` keeps markup in OUR template and escapes every value;
- `error_line(message)` is the one red "error:" line of a failure, message escaped;
- `hint(*argv)` is a "next:" line whose command is shell-quoted (a name with `;` or
  spaces pastes as one argument);
- `cell(value)` is a table cell shown literally (Rich tables read markup in strings).
"""

from __future__ import annotations

import shlex

from rich.console import Console
from rich.markup import escape
from rich.text import Text



def plain_console(**options) -> Console:
    """A Console that prints strings literally: no markup, no emoji codes, no highlighting."""
    return Console(markup=False, emoji=False, highlight=False, **options)


console = plain_console(stderr=True)


def _plain(value) -> str:
    return escape("" if value is None else str(value))


def render(template: str, **values) -> str:
    """The template with each {name} replaced by its value, escaped for Rich markup."""
    return template.format(**{k: _plain(v) for k, v in values.items()})


def say(template: str, *, out: Console | None = None, **values) -> None:
    """Print our markup template with user values that print literally."""
    (out or console).print(render(template, **values), markup=True, emoji=False, highlight=False,
                           soft_wrap=True)


def error_line(message, *, out: Console | None = None) -> None:
    say("[bold red]error:[/] {message}", out=out, message=message)


def command(*argv) -> str:
    """`python -m pipeline ARG ...` with every argument quoted for a POSIX shell."""
    return shlex.join(["python", "-m", "pipeline", *(str(a) for a in argv)])


def hint(*argv, why: str = "", out: Console | None = None) -> None:
    """Print `next: \\`python -m pipeline ...\\` <why>` (markup off: names print as they are)."""
    (out or console).print(f"next: `{command(*argv)}`" + (f" {why}" if why else ""), markup=False,
                           emoji=False, highlight=False, soft_wrap=True)


def cell(value) -> Text:
    """A table cell that shows the value literally."""
    return Text("-" if value is None else str(value), overflow="fold")
