"""Tests for the public surface of asgi_audit and the purity of its PURE modules."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import importlib.resources
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import asgi_audit

PACKAGE_DIR = Path(asgi_audit.__file__).resolve().parent

EXPECTED_ALL = (
    "CATEGORY_FILES",
    "REDACTED",
    "SCHEMA_VERSION",
    "AuditContext",
    "AuditMiddleware",
    "AuditPolicy",
    "AuditQueueFull",
    "AuditWriteError",
    "Auditor",
    "AuditorNotRunning",
    "Caps",
    "Identity",
    "InsecureDirectoryError",
    "MiddlewareOptionError",
    "PolicyError",
    "Redactor",
    "RequestContext",
    "Rule",
    "SealingKeyMissing",
    "SecretRule",
    "SyncAuditor",
    "WeakKeyError",
    "__version__",
    "audit_context",
    "category_filename",
    "current_context",
    "get_audit_stats",
    "outcome_for_status",
    "rotate_audit_logs",
)

#: The modules DESIGN.md lists as PURE (no event loop, no file).
DESIGN_PURE = {
    "record.events",
    "record.context",
    "record.redaction",
    "record.shapes",
    "record.encoding",
    "record.pipeline",
    "record.vocabulary",
    "record.ecs",
    "web.proxies",
    "web.policy",
    "web.bodies",
}
LOOP_LIBRARIES = ("asyncio", "anyio")
#: Calls that open or touch a file: open(), os.open, io.open, Path.open, Path.read_text, ...
FILE_CALLS = frozenset(
    {"open", "fdopen", "open_code", "read_text", "read_bytes", "write_text", "write_bytes"}
)


def test_all_is_the_pinned_tuple() -> None:
    assert isinstance(asgi_audit.__all__, tuple)
    assert asgi_audit.__all__ == EXPECTED_ALL


def test_all_is_sorted_constants_then_classes_then_functions() -> None:
    # ruff's RUF022 order: SCREAMING_CASE, then CamelCase, then the rest, each alphabetical.
    def group(name: str) -> tuple[int, str]:
        if name.isupper():
            return 0, name
        if name[0].isupper():
            return 1, name
        return 2, name

    assert list(asgi_audit.__all__) == sorted(asgi_audit.__all__, key=group)
    assert len(set(asgi_audit.__all__)) == len(asgi_audit.__all__)


@pytest.mark.parametrize("name", EXPECTED_ALL)
def test_every_public_name_is_importable(name: str) -> None:
    namespace: dict[str, Any] = {}
    exec(f"from asgi_audit import {name}", namespace)  # noqa: S102 - a fixed, listed name
    assert namespace[name] is getattr(asgi_audit, name)


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, Any] = {}
    exec("from asgi_audit import *", namespace)  # noqa: S102
    assert set(namespace) - {"__builtins__"} == set(EXPECTED_ALL)


def test_every_lazy_name_is_the_object_its_module_defines() -> None:
    # The package imports its public names on first use: the table that says where
    # each comes from holds exactly the public names, each from its true module.
    lazy = asgi_audit._LAZY
    assert set(lazy) == set(EXPECTED_ALL) - {"__version__"}
    for name, module in lazy.items():
        assert getattr(asgi_audit, name) is getattr(
            importlib.import_module(module, "asgi_audit"), name
        )
    assert set(EXPECTED_ALL) <= set(dir(asgi_audit))
    with pytest.raises(AttributeError, match="has no attribute 'Nonexistent'"):
        asgi_audit.Nonexistent  # noqa: B018


def test_the_command_line_starts_without_the_web_stack() -> None:
    # `asgi-audit` reads and checks files: importing it must not import the
    # Auditor, the middleware, AnyIO or Starlette (a fresh interpreter, to see).
    code = (
        "import sys, asgi_audit.cli, asgi_audit\n"
        "heavy = ('asgi_audit.auditor', 'asgi_audit.web.middleware', 'anyio', 'starlette')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "asgi_audit.Auditor\n"
        "print('asgi_audit.auditor' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[:2] == ["[]", "True"]


def test_version_is_a_release_string() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", asgi_audit.__version__)


def test_version_is_the_installed_distributions() -> None:
    # __version__ is the one source: the build reads it into the metadata.
    assert asgi_audit.__version__ == importlib.metadata.version("asgi-audit")


def test_py_typed_ships_in_the_package_directory() -> None:
    assert (PACKAGE_DIR / "py.typed").is_file()
    assert importlib.resources.files("asgi_audit").joinpath("py.typed").is_file()


# --- PURE modules ------------------------------------------------------------------------
#
# Two independent checks, because neither is enough alone:
#
# 1. The source AST of each PURE module: no `import asyncio`/`import anyio` (or their
#    submodules, `from` forms included, even under TYPE_CHECKING) and no call that opens a
#    file (`open(...)`, `os.open`, `io.open`, `x.open(...)`, `read_text`, ...). This sees
#    code that only runs later, inside functions, which an import alone never executes.
# 2. A fresh interpreter (`python -I -B -c`) that loads the module *without* running
#    asgi_audit/__init__.py (which imports the IO and adapter modules, and so anyio and
#    asyncio). It registers an empty stand-in package whose __path__ is the real package
#    directory, then imports `<stand-in>.<module>`: the module and its relative imports come
#    from the real files, and nothing else of asgi_audit runs. Afterwards asyncio and anyio
#    must be absent from sys.modules, which catches transitive imports the AST cannot see;
#    an audit hook also records every file opened during the import other than code files
#    and their bytecode caches (-B keeps the probe from writing any).
#    The same probe run on writer.py (IO, uses anyio) must see anyio, proving it detects one.

PROBE = r"""
import importlib, json, sys, types

package_dir, name, exercise = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
before = sorted(m for m in sys.modules if m.split(".")[0] in ("asyncio", "anyio"))
opened = []
CODE_SUFFIXES = (".py", ".pyc", ".so", ".pyd")

def hook(event, args):
    if event in ("open", "os.open") and isinstance(args[0], str):
        if not args[0].endswith(CODE_SUFFIXES) and "__pycache__" not in args[0]:
            opened.append(args[0])

sys.addaudithook(hook)
stand_in = types.ModuleType("_pure_probe")
stand_in.__path__ = [package_dir]
sys.modules["_pure_probe"] = stand_in
module = importlib.import_module("_pure_probe." + name)
if exercise:
    # Run the whole pure pipeline once: lazy imports inside functions show up too.
    pipeline = importlib.import_module("_pure_probe.record.pipeline")
    events = importlib.import_module("_pure_probe.record.events")
    encoding = importlib.import_module("_pure_probe.record.encoding")
    redaction = importlib.import_module("_pure_probe.record.redaction")
    raw = events.RawEvent("auth", "login_attempt", "failed", 1_780_000_000_000_000_000, None,
                          {"raw_input": "password=hunter2", "details": {b"k": {1, 2}}})
    p = pipeline.Pipeline(redactor=redaction.Redactor(), caps=encoding.Caps(),
                          session_ids="hash", session_key=b"k" * 32)
    line = p.encode(raw)
    assert b"hunter2" not in line and line.count(b"\n") == 1, line
after = sorted(m for m in sys.modules if m.split(".")[0] in ("asyncio", "anyio"))
print(json.dumps({
    "before": before,
    "after": after,
    "opened": opened,
    "real_package_loaded": "asgi_audit" in sys.modules,
    "module_file": module.__file__,
}))
"""


def module_path(name: str) -> Path:
    """The source file of a dotted module name under the package (``record.events``)."""
    return PACKAGE_DIR.joinpath(*name.split(".")).with_suffix(".py")


def declared_pure() -> set[str]:
    """Every module whose docstring has a line starting with PURE, as a dotted name."""
    return {
        ".".join(p.relative_to(PACKAGE_DIR).with_suffix("").parts)
        for p in PACKAGE_DIR.rglob("*.py")
        if p.name != "__init__.py" and docstring_says_pure(p)
    }


def docstring_says_pure(path: Path) -> bool:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return re.search(r"^PURE\b", doc, re.MULTILINE) is not None


def pure_modules() -> list[str]:
    return sorted(declared_pure() | DESIGN_PURE)


def probe(name: str, *, exercise: bool = False) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-c", PROBE, str(PACKAGE_DIR), name, "1" if exercise else "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_design_pure_modules_exist_and_most_declare_it() -> None:
    for name in DESIGN_PURE:
        assert module_path(name).is_file(), name
    declared = declared_pure()
    assert {
        "record.events",
        "record.context",
        "record.redaction",
        "record.encoding",
        "record.pipeline",
    } <= declared


@pytest.mark.parametrize("name", pure_modules())
def test_pure_module_source_imports_no_event_loop_and_opens_no_file(name: str) -> None:
    tree = ast.parse(module_path(name).read_text(encoding="utf-8"))
    imported: list[str] = []
    file_calls: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.append(node.module)
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if called in FILE_CALLS:
                file_calls.append(f"line {node.lineno}: {ast.unparse(func)}()")
    assert [m for m in imported if m.split(".")[0] in LOOP_LIBRARIES] == []
    assert file_calls == []


@pytest.mark.parametrize("name", pure_modules())
def test_pure_module_loads_alone_without_asyncio_anyio_or_files(name: str) -> None:
    data = probe(name)
    assert data["before"] == []
    assert data["real_package_loaded"] is False
    assert Path(data["module_file"]).resolve() == module_path(name)
    assert data["after"] == []
    assert data["opened"] == []


def test_pure_pipeline_runs_end_to_end_without_asyncio_anyio_or_files() -> None:
    data = probe("record.pipeline", exercise=True)
    assert data["after"] == []
    assert data["opened"] == []


def test_probe_detects_an_event_loop_import_in_an_io_module() -> None:
    data = probe("store.writer")
    assert data["real_package_loaded"] is False
    assert "anyio" in data["after"] or "asyncio" in data["after"]
