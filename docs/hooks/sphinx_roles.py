"""MkDocs hook: show the Sphinx roles of the docstrings as code.

The docstrings cross-reference with Sphinx roles (``:class:`~asgi_audit.Auditor```),
which Markdown renders as the role's name followed by code. This turns each into the
code alone, shortened to its last dotted part when the role asks for it with ``~``.
"""

from __future__ import annotations

import re
from typing import Any, Final

_ROLE: Final = re.compile(r":(?:class|func|meth|attr|data|mod|exc|obj):<code>(~?)([^<]*)</code>")


def _code(match: re.Match[str]) -> str:
    name = match[2].rsplit(".", 1)[-1] if match[1] else match[2]
    return f"<code>{name}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    return _ROLE.sub(_code, html)
