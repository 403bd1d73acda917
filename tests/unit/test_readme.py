"""The README and docs/ stay true: size, links, and every `fwctl` command they print.

Commands and options are checked against the real CLI (its click tree), so a
renamed command or a dropped flag fails here instead of in a newcomer's shell.
The tutorial's commands themselves run end to end in the e2e tests.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer.main

from featurewarehouse.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").rglob("*.md"))

# Written on other branches at the same time as these docs. Each entry must be
# missing here; once it exists (after the merge), the test says to drop it.
PENDING_PATHS: set[str] = set()
PENDING_COMMANDS: set[tuple[str, ...]] = set()

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _FENCE.sub("", path.read_text())
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


def _links(path: Path) -> list[str]:
    return _LINK.findall(_FENCE.sub("", path.read_text()))


def test_readme_is_a_quickstart_not_a_manual():
    lines = README.read_text().splitlines()
    assert len(lines) < 400, f"README.md has {len(lines)} lines; move details to docs/"


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path):
    broken = []
    for link in _links(page):
        if re.match(r"^[a-z]+:", link):
            continue
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        rel = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
        if rel.rstrip("/") in PENDING_PATHS:
            continue
        if not path.exists():
            broken.append(f"{link}: no such file {rel}")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{link}: no heading #{anchor} in {rel}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_pending_pages_are_still_pending():
    arrived = sorted(p for p in PENDING_PATHS if (ROOT / p).exists())
    assert not arrived, f"{arrived} exist now: remove them from PENDING_PATHS in {__file__}"


def _fwctl_invocations(page: Path) -> list[str]:
    """Every `fwctl ...` command in the page's bash and console blocks."""
    found = []
    for lang, body in _FENCE.findall(page.read_text()):
        if lang not in ("bash", "console", ""):
            continue
        for line in body.replace("\\\n", " ").splitlines():
            line = line.strip()
            if lang == "console":
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            for part in re.split(r"&&|\|\||[|;&]", line):
                part = part.split(" #", 1)[0].strip()
                part = re.sub(r"^(?:[A-Z_]+=\S+\s+)+", "", part)  # leading VAR=value
                if part.startswith(("fwctl ", ".venv/bin/fwctl ")):
                    found.append(part)
    return found


def _is_group(cmd) -> bool:
    # typer may bundle its own copy of click: ask for the behaviour, not the class
    return hasattr(cmd, "list_commands")


def _check(command: str) -> str | None:
    """None when the command and its options exist; else what is wrong."""
    group = typer.main.get_command(app)
    argv = shlex.split(command)[1:]
    path: list[str] = []
    cmd = group
    ctx = group.context_class(group)
    while _is_group(cmd) and argv and not argv[0].startswith("-"):
        sub = cmd.get_command(ctx, argv[0])
        if sub is None:
            return None if tuple([*path, argv[0]]) in PENDING_COMMANDS else f"no command {' '.join([*path, argv[0]])!r}"
        path.append(argv.pop(0))
        cmd = sub
    known = {opt for p in cmd.params for opt in (*p.opts, *p.secondary_opts)} | {"--help", "-h"}
    unknown = [a.split("=", 1)[0] for a in argv if a.startswith("-") and a.split("=", 1)[0] not in known]
    return f"{' '.join(path) or 'fwctl'} has no option(s) {unknown}" if unknown else None


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_fwctl_command_printed_exists(page: Path):
    problems = [f"{c!r}: {why}" for c in _fwctl_invocations(page) if (why := _check(c))]
    assert not problems, f"{page.relative_to(ROOT)}: " + "; ".join(problems)


def test_the_cheat_sheet_lists_every_command():
    """The README's command table names every fwctl command and group, and nothing else."""
    table = set(re.findall(r"^\| `fwctl ([a-z\- ]+?)(?: [A-Z\[][^`]*)?` \|", README.read_text(), re.M))
    group = typer.main.get_command(app)
    ctx = group.context_class(group)
    actual = set()
    for name in group.list_commands(ctx):
        sub = group.get_command(ctx, name)
        if _is_group(sub):
            actual |= {f"{name} {s}" for s in sub.list_commands(ctx)}
            if sub.invoke_without_command:
                actual.add(name)
        else:
            actual.add(name)
    pending = {" ".join(c) for c in PENDING_COMMANDS}
    assert actual - table == set(), "commands missing from the README's table"
    assert table - actual - pending - {"--version"} == set(), "README lists commands that do not exist"


def test_readme_file_blocks_name_their_path():
    """Every SQL/YAML block of the tutorial starts with the file it belongs to, so it can be written out."""
    text = README.read_text()
    start, end = text.index("## Tutorial"), text.index("## Use it in your dbt project")
    for lang, body in _FENCE.findall(text[start:end]):
        if lang in ("sql", "yaml"):
            first = body.splitlines()[0]
            assert re.match(r"^(--|#) [\w/.]+\.(sql|yml)\b", first), f"block without a path: {first!r}"
