"""Help text: prose paragraphs are reflowed to the screen, examples keep their lines."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from podwall.cli import app
from podwall.cli_help import reflow


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One line.", "One line."),
        ("Summary.\n\nWrapped for\nthe source.", "Summary.\n\nWrapped for the source."),
        ("First\nparagraph.", "First paragraph."),
        ("Examples:\n\n  a  # one\n  b  # two", "Examples:\n\n  a  # one\n  b  # two"),
        ("Run:\n\n  podwall up\n\nThen\nlog in.", "Run:\n\n  podwall up\n\nThen log in."),
    ],
    ids=["one line", "later paragraph", "first paragraph", "examples kept", "mixed"],
)
def test_reflow_joins_prose_and_keeps_examples(text: str, expected: str):
    assert reflow(text) == expected


@pytest.mark.parametrize(
    ("command", "line"),
    [
        (["lint"], "DNS blocked by egress policy, AND/OR peers, selectors matching nothing, "
                   "ignored rules, redundant"),
        (["lab", "down"], "The sweep by prefix spares other labs that are up: longer prefixes, "
                          "and the same prefix held from"),
    ],
    ids=["lint", "lab down"],
)
def test_help_paragraphs_fill_the_terminal(command: list[str], line: str):
    shown = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "100"})
    assert shown.exit_code == 0
    assert line in shown.output
