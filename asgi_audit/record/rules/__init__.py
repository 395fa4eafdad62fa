"""The rule table of the secret scanner: the token formats providers publish, by family.

PURE. Each family module lists its providers' formats, written from the formats the
providers publish; :data:`RULES` is their concatenation, in the order the scanner runs
them, the generic key-word rules last.
``docs/reference/secret-rules.md`` lists every rule with its provider and keywords.
"""

from __future__ import annotations

from typing import Final

from ..scanner import Rule
from . import (
    ai_data,
    business,
    cloud,
    code,
    commands,
    connection,
    devtools,
    generic,
    messaging,
    misc,
    monitoring,
    payments,
    webapis,
)

__all__ = ("RULES",)

RULES: Final[tuple[Rule, ...]] = (
    *cloud.RULES,
    *code.RULES,
    *messaging.RULES,
    *payments.RULES,
    *ai_data.RULES,
    *monitoring.RULES,
    *misc.RULES,
    *devtools.RULES,
    *business.RULES,
    *webapis.RULES,
    *connection.RULES,
    *commands.RULES,
    *generic.RULES,
)
