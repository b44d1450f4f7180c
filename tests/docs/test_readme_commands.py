"""Every ``nnscratch`` command shown in the README's and docs' shell blocks parses: a flag
renamed or removed in the code cannot stay behind in the documentation."""

import re
import shlex
from pathlib import Path

import pytest

from nnscratch.cli.main import build_parser

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```(?:bash|sh|console)\n(.*?)^```", re.M | re.S)


def shown_commands():
    for page in PAGES:
        for block in FENCE.findall(page.read_text(encoding="utf-8")):
            for line in block.splitlines():
                line = line.strip().removeprefix("$ ")
                for part in line.split("&&"):
                    part = part.strip()
                    if part.startswith("nnscratch "):
                        yield pytest.param(part, id=f"{page.name}:{part[:60]}")


COMMANDS = list(shown_commands())


def test_the_readme_shows_commands():
    assert len(COMMANDS) >= 3


@pytest.mark.parametrize("command", COMMANDS)
def test_shown_command_parses(command):
    words = shlex.split(command, comments=True)[1:]
    try:
        args = build_parser().parse_args(words)
    except SystemExit as exc:  # argparse's way of refusing
        pytest.fail(f"{command!r} does not parse (exit {exc.code})")
    assert args.command == words[0] or words[0].startswith("-")
