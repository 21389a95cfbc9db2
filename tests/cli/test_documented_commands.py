"""Every ``roma-bench`` command the committed Markdown shows matches today's CLI.

A renamed or removed flag fails here instead of in a reader's terminal. Commands in ```bash
blocks (line continuations joined, comments and leading ``VAR=value`` assignments dropped)
must parse whole; in such a synopsis ``[--flag VALUE]`` marks an optional part (checked as if
given) and ``a|b`` alternatives (each checked). Inline code spans often name a command
without its required arguments (``roma-bench budget check``) or with placeholders, so of a
span only its subcommand and every ``--flag`` it names are checked.
"""

from __future__ import annotations

import argparse
import itertools
import re
import shlex
from pathlib import Path

import pytest

from roma_bench.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted(
    [
        ROOT / "README.md",
        ROOT / "tasks" / "README.md",
        ROOT / "baselines" / "TEMPLATE.md",
        *(ROOT / "leaderboards").rglob("*.md"),
    ]
)
FENCE = re.compile(r"```(?:bash|sh)\n(.*?)```", re.S)
SPAN = re.compile(r"`(roma-bench [^`]+)`")
ASSIGNMENT = re.compile(r"[A-Z][A-Z0-9_]*=\S*")
PARSER = build_parser()  # parsing leaves it as it was: one for every check
PLACEHOLDER = re.compile(r"roma-bench [A-Z]+\b")  # `roma-bench CMD: error: ...` is prose


def shell_commands(block: str) -> list[str]:
    """The ``roma-bench`` command lines of one shell block, without comments or env prefixes
    (re-quoted with :func:`shlex.join`)."""
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        while words and ASSIGNMENT.fullmatch(words[0]):
            words.pop(0)
        if words and words[0] == "roma-bench":
            commands.append(shlex.join(words))
    return commands


def documented_commands() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(document, command)`` of every shell-block command and of every inline span (a span
    that lists several commands, ``a; b``, gives each) in the committed Markdown."""
    blocks, spans = [], []
    for path in DOCUMENTS:
        text = path.read_text()
        name = str(path.relative_to(ROOT))
        for block in FENCE.findall(text):
            blocks += [(name, command) for command in shell_commands(block)]
        for span in SPAN.findall(text.replace("\n", " ")):
            parts = [part.strip() for part in span.split("; ")]
            spans += [(name, part) for part in parts if not PLACEHOLDER.match(part)]
    return blocks, spans


def argument_lists(command: str) -> list[list[str]]:
    """The argument lists a synopsis stands for: brackets dropped, ``a|b`` expanded."""
    words = [bare for word in shlex.split(command)[1:] if (bare := word.strip("[]")) or word == ""]
    choices = [word.split("|") if "|" in word else [word] for word in words]
    return [list(combination) for combination in itertools.product(*choices)]


def named_flags(command: str) -> tuple[list[str], list[str], set[str]]:
    """``(path, flags, known)``: the subcommands a span walks into (``["budget"]`` for
    ``roma-bench budget check``), the ``--flags`` it names and the flags that parser takes."""
    parser, path = PARSER, []
    words = [word.strip("[]()") for word in command.replace("|", " ").split()[1:]]
    for word in words:
        if word.startswith("-"):
            break
        commands = [
            action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
        ]
        if not commands or word not in commands[0].choices:
            break
        parser = commands[0].choices[word]
        path.append(word)
    known = {option for action in parser._actions for option in action.option_strings}
    flags = [word.split("=")[0] for word in words if re.fullmatch(r"--[a-z][a-z0-9-]*(=.*)?", word)]
    return path, flags, known


BLOCKS, SPANS = documented_commands()


def test_the_documents_show_commands():
    """The extraction finds the README's reference commands and the generated pages' ones."""
    documents = {name for name, _ in BLOCKS + SPANS}
    assert "README.md" in documents and "tasks/README.md" in documents
    assert any(name.startswith("leaderboards/budgets/") for name, _ in SPANS)
    assert len(BLOCKS) >= 20 and len(SPANS) >= 30


@pytest.mark.parametrize("document,command", SPANS, ids=[f"{d}:{c}" for d, c in SPANS])
def test_documented_span_names_real_flags(document, command):
    path, flags, known = named_flags(command)
    assert path, f"{document}: `{command}` names no roma-bench subcommand"
    unknown = [flag for flag in flags if flag not in known]
    assert not unknown, f"{document}: `{command}`: roma-bench {' '.join(path)} has no {unknown}"


@pytest.mark.parametrize("document,command", BLOCKS, ids=[f"{d}:{c}" for d, c in BLOCKS])
def test_documented_command_parses(document, command):
    parser = PARSER
    for arguments in argument_lists(command):
        try:
            parser.parse_args(arguments)
        except SystemExit as stop:
            pytest.fail(f"{document}: `roma-bench {shlex.join(arguments)}` does not parse ({stop})")


def test_a_stale_flag_is_caught():
    """The checks themselves: a flag the CLI does not have fails both."""
    with pytest.raises(SystemExit):
        PARSER.parse_args(argument_lists("roma-bench train --model gcn --no-such-flag")[0])
    path, flags, known = named_flags("roma-bench budget check --no-such-flag X")
    assert path == ["budget"] and flags == ["--no-such-flag"] and "--steps" in known
    assert "--no-such-flag" not in known
