"""The documentation stays true to the code: checks over README.md, docs/ and docs_src/.

The README is the front page: short, with a quickstart that is the tested
``docs_src/quickstart/main.py`` word for word, and links that resolve. Every program
under ``docs_src/`` is included into a page and run by ``tests/test_docs_examples.py``.
The reference pages name every option of ``Auditor`` and ``AuditMiddleware``, every flag
of every ``asgi-audit`` command and every public name; the numbers and sets the pages
state are read from the code: the event methods' closed sets, the header and integrity
fields, the command's exit statuses, the redaction key words, the key rule, the
websocket messages kept and the length of a rejected address. When MkDocs is installed
(the ``docs`` extra), the site is built with ``--strict``.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import re
import subprocess
import sys
import typing
from pathlib import Path
from typing import Final

import pytest

import asgi_audit
from asgi_audit import AuditMiddleware, Auditor, methods
from asgi_audit.cli import build_parser, common
from asgi_audit.proof import keycheck
from asgi_audit.record import events, redaction, secretkeys
from asgi_audit.web.proxies import REJECTED_CHARS
from asgi_audit.web.websocket import KEPT_MESSAGES

ROOT: Final = Path(__file__).resolve().parent.parent
README: Final = ROOT / "README.md"
DOCS: Final = ROOT / "docs"
DOCS_SRC: Final = ROOT / "docs_src"
MAX_README_LINES: Final = 200

# pymdownx.snippets' block form (the one-line form is valid Python, which ruff would
# reformat inside a Markdown code block).
SNIPPET_RE: Final = re.compile(
    r"^[ \t]*--8<--[ \t]*\n[ \t]*(\S+)[ \t]*\n[ \t]*--8<--[ \t]*$", re.MULTILINE
)
LINK_RE: Final = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "hooks" not in p.parts)


def programs() -> list[Path]:
    return sorted(p for p in DOCS_SRC.rglob("*.py") if p.name != "__init__.py")


def test_the_readme_is_a_front_page_of_at_most_200_lines() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines"


def test_the_readme_quickstart_is_the_tested_program() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quickstart", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert block is not None, "no python block after '## Quickstart'"
    assert block[1] == (DOCS_SRC / "quickstart" / "main.py").read_text(encoding="utf-8")


def test_the_readme_starts_with_install_then_set_up() -> None:
    text = README.read_text(encoding="utf-8")
    order = [
        text.index("pip install asgi-audit"),
        text.index("asgi-audit[otlp]"),
        text.index("pip install -e ."),
        text.index("make demo"),
        text.index("make test"),
        text.index("make docs"),
        text.index("## Quickstart"),
        text.index("## What is written"),
    ]
    assert order == sorted(order)


@pytest.mark.parametrize("page", [README, *pages()], ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    # The README's links must work on a code host too; the site's are also checked by
    # `mkdocs build --strict`.
    for target in LINK_RE.findall(page.read_text(encoding="utf-8")):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (page.parent / target).exists(), f"{page.name}: broken link {target}"


def test_every_snippet_names_a_file() -> None:
    for page in pages():
        for path in SNIPPET_RE.findall(page.read_text(encoding="utf-8")):
            assert (ROOT / path).is_file(), f"{page.name}: no such file {path}"


def runs(program: Path, runner: str) -> bool:
    """Whether tests/test_docs_examples.py runs ``program``: by its module or path, or
    through a test module beside it that imports it (and is run)."""
    relative = program.relative_to(ROOT).as_posix()
    module = relative.removesuffix(".py").replace("/", ".")
    if module in runner or relative.split("/", 1)[1] in runner or program.name in runner:
        return True
    return any(
        f"from .{program.stem} import" in test.read_text(encoding="utf-8") and runs(test, runner)
        for test in program.parent.glob("test_*.py")
    )


def test_every_program_is_shown_in_a_page_and_run_by_a_test() -> None:
    included = {
        path for page in pages() for path in SNIPPET_RE.findall(page.read_text(encoding="utf-8"))
    }
    runner = (ROOT / "tests" / "test_docs_examples.py").read_text(encoding="utf-8")
    for program in programs():
        relative = program.relative_to(ROOT).as_posix()
        assert relative in included, f"{relative} is shown in no page"
        assert runs(program, runner), f"{relative} is run by no test in test_docs_examples.py"


def option_rows(page: str) -> set[str]:
    text = (DOCS / "reference" / page).read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([a-z0-9_]+)` \|", text, re.MULTILINE))


def test_every_auditor_option_is_in_the_reference() -> None:
    options = set(inspect.signature(Auditor).parameters)
    assert options - option_rows("auditor.md") == set()


def test_every_middleware_option_is_in_the_reference() -> None:
    options = set(inspect.signature(AuditMiddleware).parameters) - {"app"}
    assert options - option_rows("middleware.md") == set()


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_every_command_and_flag_is_in_the_reference() -> None:
    text = (DOCS / "reference" / "cli.md").read_text(encoding="utf-8")
    for name, parser in subcommands().items():
        assert f"## `{name}`" in text, name
        section = text.split(f"## `{name}`", 1)[1].split("\n## ", 1)[0]
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
                continue  # -h/--help is in the table at the top; hidden flags are for tests
            for flag in action.option_strings:
                assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", section), (
                    f"asgi-audit {name} {flag} is not in docs/reference/cli.md"
                )


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def prose(name: str) -> str:
    """A page with its line breaks and indents collapsed to single spaces."""
    return " ".join(page(name).split())


def closed_set_rows() -> dict[tuple[str, str], tuple[str, ...]]:
    """The events page's closed-sets table: ``(method, argument) -> values``."""
    section = page("reference/events.md").split("### Closed sets", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \| (.+) \|$", section, re.MULTILINE)
    return {(m, arg): tuple(re.findall(r"`([^`]+)`", values)) for m, arg, values in rows}


def test_every_closed_set_is_on_the_events_page() -> None:
    # Every closed set the event methods check (the tuples of str that
    # asgi_audit.record.events exports), and every Literal that types one.
    rows = closed_set_rows()
    sets = {
        name: value
        for name in events.__all__
        if isinstance(value := getattr(events, name), tuple)
        and all(isinstance(v, str) for v in value)
    }
    assert sets, "no closed set found in asgi_audit.record.events"
    for name, values in sets.items():
        assert values in rows.values(), f"{name} {values} is not a row of the closed-sets table"
    for name in methods.__all__:
        alias = getattr(methods, name)
        if typing.get_origin(alias) is typing.Literal:
            assert typing.get_args(alias) in rows.values(), f"{name} is not on the events page"
    assert rows[("tool_blocked", "outcome")] == events.TOOL_BLOCKED_OUTCOMES


def test_the_events_page_names_every_header_and_integrity_field() -> None:
    text = page("reference/events.md")
    table = text.split("## Fields every event has", 1)[1].split("\n## ", 1)[0]
    for field in events.HEADER_FIELDS:
        assert f"| `{field}` |" in table, field
    for field in events.INTEGRITY_FIELDS:
        assert f"`{field}`" in text, field
    assert f"`{events.UNKNOWN_OUTCOME}` when the caller gave none" in text
    emit_outcome = inspect.signature(Auditor.emit).parameters["outcome"].default
    assert f'outcome="{emit_outcome}"' in text
    assert f"cut to {REJECTED_CHARS} characters" in prose("reference/events.md")


def test_every_exit_status_is_on_the_cli_and_verify_pages() -> None:
    statuses = {
        name: value
        for name in common.__all__
        if name.startswith("EXIT_") and isinstance(value := getattr(common, name), int)
    }
    assert sorted(statuses.values()) == [0, 1, 2, 3, 4]
    cli = page("reference/cli.md")
    [row] = [line for line in cli.splitlines() if line.startswith("| exit status |")]
    verify = page("how-to/verify.md").split("Exit status:", 1)[1].split("\n\n", 1)[0]
    for name, value in statuses.items():
        assert f"**{value}**" in row, f"{name} ({value}) is not in the CLI page's exit status row"
        assert f"**{value}**" in verify, f"{name} ({value}) is not in the verify guide"


def test_the_redaction_page_lists_every_key_word() -> None:
    text = page("reference/redaction.md")
    words = (
        redaction.DEFAULT_SECRET_WORDS
        | secretkeys._DESCRIPTIVE_LAST_WORDS
        | secretkeys._SECRET_LAST_WORDS
        | secretkeys._TOKEN_COUNT_WORDS
    )
    missing = sorted(w for w in words if f"`{w}`" not in text)
    assert missing == [], f"not on docs/reference/redaction.md: {missing}"


def test_the_key_rule_is_on_the_verify_page() -> None:
    text = prose("how-to/verify.md")
    assert f"at least {keycheck.MIN_KEY_BYTES} bytes" in text
    assert f"at least {keycheck.MIN_DISTINCT_BYTES} different bytes" in text
    assert keycheck.GENERATE_HINT in text


def test_the_websocket_page_says_how_many_messages_are_kept() -> None:
    assert f"first {KEPT_MESSAGES} messages each way" in prose("how-to/websockets.md")


def test_the_proxies_page_says_how_much_of_a_rejected_address_is_kept() -> None:
    assert f"cut to {REJECTED_CHARS} characters" in prose("how-to/proxies.md")


def test_every_public_name_is_in_the_api_reference() -> None:
    text = (DOCS / "reference" / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: asgi_audit\.(\w+)$", text, re.MULTILINE))
    assert set(asgi_audit.__all__) - documented == set()


def test_the_python_versions_are_named() -> None:
    for page in (README, DOCS / "index.md"):
        assert "CPython 3.10, 3.11, 3.12 and 3.13" in page.read_text(encoding="utf-8")


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None, reason="MkDocs is not installed (the docs extra)"
)
def test_the_site_builds_with_no_warning(tmp_path: Path) -> None:
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert build.returncode == 0, build.stderr
    assert (tmp_path / "index.html").is_file()
