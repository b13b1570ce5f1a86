"""MkDocs hook: the command-line page is generated from ``ecs_rl.cli.build_parser()`` at build time.

A page holding the line ``<!-- ecs-rl-cli -->`` gets, in its place, each command of the ``ecs-rl`` parser
with its usage and a table of its arguments (flags, metavars, defaults, choices and help), so a flag added
to the parser appears here without editing the docs. Hidden arguments (``help=argparse.SUPPRESS``) stay hidden.
"""

from __future__ import annotations

import argparse
import html
import re

MARKER = "<!-- ecs-rl-cli -->"


def _cell(text: str) -> str:
    """Help text as one table cell: HTML and Markdown characters escaped, so ``step_<N>.pt`` shows as written."""
    text = html.escape(" ".join(str(text).split()), quote=False)
    return re.sub(r"([\\`*_|\[\]])", r"\\\1", text)


def _name(action: argparse.Action) -> str:
    if action.option_strings:
        names = ", ".join(f"`{opt}`" for opt in action.option_strings)
        if action.nargs == 0:
            return names
        metavar = action.metavar or action.dest.upper()
        return f"{names} `{metavar}`"
    return f"`{action.metavar or action.dest}`"


def _short(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _details(action: argparse.Action) -> str:
    parts = [_cell(action.help or "")]
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        parts.append("choices: " + ", ".join(f"`{c}`" for c in action.choices))
    if action.required and action.option_strings:
        parts.append("required")
    if action.nargs in ("+", "*"):
        parts.append("one or more" if action.nargs == "+" else "any number")
    elif action.nargs == "?" and not action.option_strings:
        parts.append("optional")
    default = action.default
    if (action.option_strings and action.nargs != 0 and default not in (None, argparse.SUPPRESS)
            and "default" not in (action.help or "") and f"({_short(default)})" not in (action.help or "")):
        parts.append(f"default: `{default}`")
    return "; ".join(p for p in parts if p)


def _table(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        rows.append(f"| {_name(action)} | {_details(action)} |")
    if not rows:
        return []
    return ["| argument | meaning |", "|---|---|", *rows, ""]


def render(parser: argparse.ArgumentParser) -> str:
    """Markdown for ``parser``: its description and options, then one section per subcommand."""
    lines = [parser.description or "", "", "```", parser.format_usage().strip(), "```", "", *_table(parser)]
    for group in parser._subparsers._group_actions if parser._subparsers else []:
        helps = {choice.dest: choice.help for choice in group._choices_actions}
        for name, sub in group.choices.items():
            lines += [f"## `{parser.prog} {name}`", "", _cell(helps.get(name) or ""), "",
                      "```", sub.format_usage().strip(), "```", "", *_table(sub)]
    return "\n".join(lines)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER not in markdown:
        return markdown
    from ecs_rl.cli import build_parser

    return markdown.replace(MARKER, render(build_parser()))
