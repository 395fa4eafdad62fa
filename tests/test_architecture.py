"""The layering ARCHITECTURE.md describes, checked from the source.

Every module of the package gets a level; an import that runs at import time or call
time (anything not under ``if TYPE_CHECKING:``) may only point to a module of the same
level or a lower one, and the graph of those imports has no cycle. The graph is read
from the AST, so an import inside a function counts as well.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import asgi_audit

PACKAGE_DIR = Path(asgi_audit.__file__).resolve().parent
ROOT = "asgi_audit"

#: Lowest first. A module is placed by the longest prefix that names it.
LEVELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pure", ("record", "proof.integrity", "proof.verification", "proof.findings",
              "proof.keycheck", "proof.keymatch", "proof.merkle", "proof.records",
              "proof.ledger", "proof.schemes", "proof.completeness", "proof.forward",
              "proof.schedule", "proof.keyformat", "proof.inclusion", "proof.placement")),
    ("file primitives", ("store.files", "store.rotation", "store.reporting", "store.reading",
                         "store.following", "store.stream", "store.worker", "store.listing",
                         "store.opening", "store.waiting")),
    ("proof files", ("proof.keydir", "proof.keyfiles", "proof.checkpoints",
                     "proof.verify", "proof.session", "proof.setup", "proof.sources",
                     "proof.readback", "proof")),
    ("writer", ("store.writer", "store.housekeeping", "store")),
    ("sinks", ("sinks",)),
    ("api", ("methods", "sync", "options", "runtime", "auditor", "testing")),
    ("adapters", ("web", "cli", "__main__")),
)  # fmt: skip


def level_of(module: str) -> int:
    """The index in LEVELS of a dotted module name relative to the package."""
    best, best_len = -1, -1
    for index, (_, prefixes) in enumerate(LEVELS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    if best < 0:
        raise AssertionError(f"module {module!r} has no level: add it to LEVELS")
    return best


def module_name(path: Path, package_dir: Path = PACKAGE_DIR) -> str:
    parts = list(path.relative_to(package_dir).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                inside.update(id(n) for n in ast.walk(child))
    return inside


def imports_of(path: Path, package_dir: Path = PACKAGE_DIR) -> Iterator[tuple[str, bool]]:
    """(imported module relative to the package, only for type checking) per import."""
    name = module_name(path, package_dir)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    package = [p for p in package if p]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = _type_checking_nodes(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level > 0:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            elif node.module and (node.module == ROOT or node.module.startswith(ROOT + ".")):
                target = node.module.removeprefix(ROOT).lstrip(".")
            else:
                continue
            if node.module is None and [a.name for a in node.names] == ["__version__"]:
                continue  # the version string is not a dependency on the package's code
            if node.module is None:  # from . import x, y: each name may be a module
                for alias in node.names:
                    candidate = f"{target}.{alias.name}" if target else alias.name
                    found = _exists(candidate, package_dir)
                    yield (candidate if found else target), id(node) in typing_only
            else:
                yield target, id(node) in typing_only
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == ROOT or alias.name.startswith(ROOT + "."):
                    yield alias.name.removeprefix(ROOT).lstrip("."), id(node) in typing_only


def _exists(module: str, package_dir: Path) -> bool:
    base = package_dir.joinpath(*module.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def graph(package_dir: Path = PACKAGE_DIR) -> dict[str, set[str]]:
    """Runtime imports between the package's modules (the root package left out)."""
    edges: dict[str, set[str]] = {}
    for path in sorted(package_dir.rglob("*.py")):
        source = module_name(path, package_dir)
        if source == "":
            continue  # asgi_audit/__init__.py re-exports everything by design
        targets = edges.setdefault(source, set())
        for target, typing_only in imports_of(path, package_dir):
            if not typing_only and target != source:
                targets.add(target)
    return edges


def test_every_module_has_a_level() -> None:
    for path in PACKAGE_DIR.rglob("*.py"):
        name = module_name(path)
        if name:
            level_of(name)


def upward_imports(package_dir: Path = PACKAGE_DIR) -> list[str]:
    wrong = []
    for source, targets in graph(package_dir).items():
        for target in targets:
            if target == "":
                wrong.append(f"{source} -> asgi_audit (the root re-exports everything)")
                continue
            if level_of(target) > level_of(source):
                wrong.append(
                    f"{source} ({LEVELS[level_of(source)][0]}) -> "
                    f"{target} ({LEVELS[level_of(target)][0]})"
                )
    return wrong


def cycles_in(package_dir: Path = PACKAGE_DIR) -> list[list[str]]:
    edges = graph(package_dir)
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target in edges and target not in state:
                visit(target, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    return cycles


def test_imports_point_down_or_sideways_never_up() -> None:
    assert upward_imports() == []


def test_no_import_cycle_between_modules() -> None:
    assert cycles_in() == []


def test_pure_level_imports_nothing_above_it() -> None:
    pure = level_of("record")
    for source, targets in graph().items():
        if level_of(source) == pure:
            assert all(t and level_of(t) == pure for t in targets), (source, targets)


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("record.pipeline", "pure"),
        ("proof.integrity", "pure"),
        ("proof.forward", "pure"),
        ("proof.keyfiles", "proof files"),
        ("proof.checkpoints", "proof files"),
        ("store.writer", "writer"),
        ("store.files", "file primitives"),
        ("web.middleware", "adapters"),
        ("auditor", "api"),
    ],
)
def test_levels_are_where_architecture_md_puts_them(module: str, expected: str) -> None:
    assert LEVELS[level_of(module)][0] == expected


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root.joinpath(*name.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_the_checks_see_an_upward_import_and_a_cycle(tmp_path: Path) -> None:
    package = _package(
        tmp_path / "pkg",
        {
            "__init__.py": "",
            "record/__init__.py": "",
            "record/events.py": "from ..web.middleware import AuditMiddleware\n",
            "web/__init__.py": "",
            "web/middleware.py": "from .policy import Rule\n",
            "web/policy.py": "def f():\n    from .middleware import AuditMiddleware\n",
            "store/__init__.py": "",
            "store/files.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from ..auditor import Auditor\n"
            ),
        },
    )
    assert upward_imports(package) == ["record.events (pure) -> web.middleware (adapters)"]
    assert cycles_in(package) == [["web.middleware", "web.policy", "web.middleware"]]
