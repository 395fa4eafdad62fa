"""Which ``asgi_audit`` the suite tests.

The report header names the version and the directory it was imported from.

With ``ASGI_AUDIT_TEST_INSTALLED=1`` (set by ``.ci/test-wheel``) the suite must test
an installed wheel: the run stops before the first test unless ``asgi_audit`` came
from this interpreter's site-packages. Without that check a source tree on
``sys.path`` (the rootdir pytest inserts, the working directory of ``python -m``)
would be tested instead, and a file missing from the wheel would go unnoticed.
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path
from typing import Final

import pytest

import asgi_audit

INSTALLED_ENV: Final = "ASGI_AUDIT_TEST_INSTALLED"


def _package_dir() -> Path:
    return Path(asgi_audit.__file__).resolve().parent


def pytest_report_header() -> str:
    return f"asgi_audit {asgi_audit.__version__} from {_package_dir()}"


def pytest_configure() -> None:
    if not os.environ.get(INSTALLED_ENV):
        return
    site_packages = {Path(sysconfig.get_path(key)).resolve() for key in ("purelib", "platlib")}
    if not any(_package_dir().is_relative_to(directory) for directory in site_packages):
        raise pytest.UsageError(
            f"{INSTALLED_ENV} is set, but asgi_audit was imported from {_package_dir()}, "
            f"not from this interpreter's site-packages ({', '.join(map(str, site_packages))})"
        )


@pytest.fixture(autouse=True)
def _own_key_state(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each test's sealing keys in its own state directory, never the user's.

    An Auditor without a key makes its forward-secure sealing key under
    ``$XDG_STATE_HOME/asgi-audit`` on its first start; servers the tests spawn
    inherit the variable.
    """
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
    monkeypatch.delenv("ASGI_AUDIT_KEY_DIR", raising=False)


@pytest.fixture(autouse=True)
def _commands_read_only(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands record their access into the trail they read (asgi_audit.cli.access);
    the tests of what a command prints, on files made for them, run without it. The
    tests of the record itself (``access_recorded``) and of the pages' shown outputs
    run with it, as a user's commands do."""
    if request.node.get_closest_marker("access_recorded") is None:
        monkeypatch.setenv("ASGI_AUDIT_RECORD_ACCESS", "off")
    else:
        monkeypatch.delenv("ASGI_AUDIT_RECORD_ACCESS", raising=False)
