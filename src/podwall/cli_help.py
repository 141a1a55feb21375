"""Help text that reads well at any width: docstrings are wrapped for the source, not the screen.

Typer's rich help keeps the single line breaks of every paragraph after the first, so a wrapped
docstring shows ragged at 80 columns. `reflow` joins each prose paragraph's lines; indented
paragraphs (examples) keep their lines.
"""

from __future__ import annotations

import inspect

import typer

__all__ = ["reflow", "reflow_commands"]


def reflow(text: str) -> str:
    """Each paragraph whose lines all start flush left on one line; others as written.

    `text` is already dedented (`inspect.cleandoc`), so indentation left marks an example.
    """
    paragraphs = text.split("\n\n")
    return "\n\n".join(
        p if any(line[:1].isspace() for line in p.splitlines()) else " ".join(p.split("\n"))
        for p in paragraphs
    )


def reflow_commands(app: typer.Typer) -> None:
    """Reflow the help of every command of `app` and of its sub-apps (set before Click sees it)."""
    for command in app.registered_commands:
        text = inspect.cleandoc(command.help or command.callback.__doc__ or "")
        if text:
            command.help = reflow(text)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            reflow_commands(group.typer_instance)
