"""Check what the sdist and the wheel in a directory hold (``make build`` runs it).

``twine check`` reads the metadata only; this reads the members:

* one sdist and one wheel, both named for ``asgi_audit.__version__`` of this tree;
* the wheel holds the package (every file of ``asgi_audit/`` here, ``py.typed``
  included) and its ``.dist-info`` with the license, nothing else;
* the sdist holds the package, the tests, the demo, the docs and the license, and
  nothing from a virtual environment, a cache or a docs build.

Whether the sdist holds *everything* the tests need is shown by running the suite
from it (``.ci/test-wheel``).

Usage: ``python .ci/check_dist.py DIST_DIR``
"""

from __future__ import annotations

import ast
import sys
import tarfile
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
PACKAGE: Final = "asgi_audit"

#: Members every sdist must have, relative to its top directory.
SDIST_REQUIRED: Final = (
    "PKG-INFO",
    "pyproject.toml",
    "README.md",
    "CHANGELOG.md",
    "LICENSE",
    f"{PACKAGE}/__init__.py",
    f"{PACKAGE}/py.typed",
    "tests/__init__.py",
    "tests/conftest.py",
    "demo/app.py",
    "docs/shipping/rsyslog-imfile.conf",
)
#: Directories that must never ship: environments, caches, anywhere; the output of
#: the builds (packages, the docs site) at the top.
FORBIDDEN_ANYWHERE: Final = frozenset(
    {
        ".venv",
        "venv",
        ".git",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
    }
)
FORBIDDEN_TOP: Final = frozenset({"site", "build", "dist"})


def declared_version() -> str:
    """``__version__`` as written in the package's ``__init__.py`` (not imported)."""
    tree = ast.parse((ROOT / PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise SystemExit(f"no __version__ = '...' in {PACKAGE}/__init__.py")


def source_package_files() -> set[str]:
    """The package's files in this tree, as wheel member names."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / PACKAGE).rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix not in (".pyc", ".pyo")
    }


def forbidden(names: Iterable[str]) -> list[str]:
    """The names (relative to the archive's top) that must not ship."""
    found = []
    for name in names:
        parts = PurePosixPath(name).parts
        if (
            FORBIDDEN_ANYWHERE.intersection(parts[:-1])
            or (len(parts) > 1 and parts[0] in FORBIDDEN_TOP)
            or name.endswith((".pyc", ".pyo"))
        ):
            found.append(name)
    return sorted(found)


def check_wheel(path: Path, version: str) -> list[str]:
    with zipfile.ZipFile(path) as wheel:
        names = {n for n in wheel.namelist() if not n.endswith("/")}
    dist_info = f"{PACKAGE}-{version}.dist-info/"
    problems = []
    for name in sorted(names):
        if not name.startswith((f"{PACKAGE}/", dist_info)):
            problems.append(f"wheel: {name} is neither the package nor its metadata")
    for missing in sorted(source_package_files() - names):
        problems.append(f"wheel: {missing} is missing")
    for name in ("METADATA", "WHEEL", "RECORD", "licenses/LICENSE"):
        if dist_info + name not in names:
            problems.append(f"wheel: {dist_info}{name} is missing")
    problems += [f"wheel: {n} must not ship" for n in forbidden(names)]
    return problems


def check_sdist(path: Path, version: str) -> list[str]:
    top = f"{PACKAGE}-{version}/"
    with tarfile.open(path) as sdist:
        members = sdist.getmembers()
    names = {m.name for m in members if m.isfile()}
    problems = [f"sdist: {n} is outside {top}" for n in sorted(names) if not n.startswith(top)]
    inside = {n.removeprefix(top) for n in names}
    problems += [f"sdist: {n} is missing" for n in SDIST_REQUIRED if n not in inside]
    for missing in sorted(source_package_files() - inside):
        problems.append(f"sdist: {missing} is missing")
    problems += [f"sdist: {n} must not ship" for n in forbidden(inside)]
    problems += [f"sdist: {m.name} is a link" for m in members if m.issym() or m.islnk()]
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    dist = Path(argv[0])
    version = declared_version()
    wheels = sorted(dist.glob("*.whl"))
    sdists = sorted(dist.glob("*.tar.gz"))
    expected_wheel = f"{PACKAGE}-{version}-py3-none-any.whl"
    expected_sdist = f"{PACKAGE}-{version}.tar.gz"
    if [p.name for p in wheels] != [expected_wheel] or [p.name for p in sdists] != [expected_sdist]:
        found = ", ".join(p.name for p in wheels + sdists) or "nothing"
        print(f"{dist}: expected {expected_sdist} and {expected_wheel}, found {found}")
        return 1
    problems = check_wheel(wheels[0], version) + check_sdist(sdists[0], version)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"{expected_sdist} and {expected_wheel}: contents as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
