"""Printing to the terminal without letting printed values change what is printed (or raise).

Rich reads `[bold]...[/]` in strings as markup. A judge called `[/bold]` would raise a
MarkupError after the command had already written its data, and `[red]x[/red]` would
lose its brackets. So:
- `console` has markup off: a plain `console.print(text)` shows text exactly as it is;
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

console = Console(stderr=True, markup=False, highlight=False)


def _plain(value) -> str:
    return escape("" if value is None else str(value))


def render(template: str, **values) -> str:
    """The template with each {name} replaced by its value, escaped for Rich markup."""
    return template.format(**{k: _plain(v) for k, v in values.items()})


def say(template: str, *, out: Console | None = None, **values) -> None:
    """Print our markup template with user values that print literally."""
    (out or console).print(render(template, **values), markup=True, highlight=False, soft_wrap=True)


def error_line(message, *, out: Console | None = None) -> None:
    say("[bold red]error:[/] {message}", out=out, message=message)


def command(*argv) -> str:
    """`python -m pipeline ARG ...` with every argument quoted for a POSIX shell."""
    return shlex.join(["python", "-m", "pipeline", *(str(a) for a in argv)])


def hint(*argv, why: str = "", out: Console | None = None) -> None:
    """Print `next: \\`python -m pipeline ...\\` <why>` (markup off: names print as they are)."""
    (out or console).print(f"next: `{command(*argv)}`" + (f" {why}" if why else ""), markup=False,
                           highlight=False, soft_wrap=True)


def cell(value) -> Text:
    """A table cell that shows the value literally."""
    return Text("-" if value is None else str(value), overflow="fold")
