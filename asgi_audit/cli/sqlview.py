"""The SQL text of the ``events`` view that ``asgi-audit sql`` and ``export`` read.

Strings only: it opens no file and no database (its tests run the text on DuckDB).
One row per line of the files given, whatever profile wrote it: a line's first key
tells (``{"@timestamp"`` ECS, ``{"time":`` OCSF, else native), and each column is
read from where that profile puts the field, each line parsed once
(``json_extract_string`` with a list of paths). The columns are :data:`COLUMNS`,
then ``event`` (the line as written, as JSON), ``log_file`` (the file's name) and
``verified``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

from ..record.ecs import ECS_FIELDS, NAMESPACE
from ..record.ecs_namespace import DATA

__all__ = ("COLUMNS", "Column", "events_view", "quoted", "string_literal")


class Column(NamedTuple):
    """A column of the view: its name (the native field's) and its DuckDB type."""

    name: str
    type: str = "VARCHAR"


#: The view's columns from the events, in order: the fields most queries filter on.
COLUMNS: Final[tuple[Column, ...]] = (
    Column("timestamp", "TIMESTAMPTZ"),
    Column("category"),
    Column("event_type"),
    Column("outcome"),
    Column("event_id"),
    Column("user_id"),
    Column("ip_address"),
    Column("user_agent"),
    Column("session_id"),
    Column("request_id"),
    Column("agent_id"),
    Column("method"),
    Column("request_path"),
    Column("status_code", "INTEGER"),
    Column("duration_ms", "DOUBLE"),
    Column("tool_name"),
    Column("blocked_path"),
    Column("rule_name"),
    Column("severity"),
    Column("resource_type"),
    Column("resource_id"),
    Column("action"),
    Column("record_count", "BIGINT"),
    Column("purpose"),
    Column("authz_decision"),
    Column("authz_reason"),
    Column("stream"),
    Column("seq", "BIGINT"),
)

#: ECS moves ``duration_ms`` to ``event.duration``, in nanoseconds: scaled back.
_ECS_NANOSECONDS: Final = "event.duration"
_NANOSECOND_MS: Final = 1e-6


def quoted(name: str) -> str:
    """``name`` as a SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def string_literal(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _path(*keys: str) -> str:
    """A JSON path of object keys, each quoted (``$."@timestamp"."x"``)."""
    return "$" + "".join(
        "." + '"' + k.replace("\\", "\\\\").replace('"', '\\"') + '"' for k in keys
    )


def _places(profile: str, field: str) -> list[str]:
    """The JSON paths of ``field`` in a line of ``profile``, most likely first: one in
    a native line and in OCSF's ``unmapped``; in an ECS document, the ECS field (when
    it has one), then the namespace's, then its ``data`` (a value the ECS field's type
    does not fit stays in the namespace). ``event.duration`` comes last."""
    if profile == "native":
        return [_path(field)]
    if profile == "ocsf":
        return [_path("unmapped", field)]
    targets = ECS_FIELDS.get(field, ())
    places = [_path(NAMESPACE, field), _path(NAMESPACE, DATA, field)]
    if targets:
        target = _path(*targets[0].split("."))
        if targets[0] == _ECS_NANOSECONDS:
            places.append(target)
        else:
            places.insert(0, target)
    return places


def _listed(paths: Sequence[str]) -> str:
    return "[" + ", ".join(string_literal(p) for p in paths) + "]"


def _column(index: int, column: Column, ecs_at: Sequence[int]) -> str:
    """Column ``index``: its place in ``v`` (a native or OCSF line's values), else its
    places in ``e`` (an ECS document's) at ``ecs_at``, the first that holds one."""
    values = [f"TRY_CAST(v[{index + 1}] AS {column.type})"]
    places = _places("ecs", column.name)
    for at, place in zip(ecs_at, places, strict=True):
        value = f"TRY_CAST(e[{at + 1}] AS {column.type})"
        if place == _path(*_ECS_NANOSECONDS.split(".")):
            value = f"({value} * {_NANOSECOND_MS!r})"
        values.append(value)
    return f"coalesce({', '.join(values)}) AS {quoted(column.name)}"


def events_view(paths: Sequence[str], files_table: str, max_line: int) -> str:
    """``CREATE TEMP VIEW events``: the lines of the files at ``paths``, joined on
    their path to ``files_table`` (``path``, ``name``, ``verified``); lines that
    are no JSON object (a line cut short) are left out."""
    if paths:
        listed = "[" + ", ".join(string_literal(p) for p in paths) + "]"
        source = (
            f"read_ndjson_objects({listed}, filename = true, ignore_errors = true, "
            f"maximum_object_size = {int(max_line)})"
        )
    else:  # no file to read: the same columns, no row
        source = "(SELECT NULL::JSON AS json, NULL::VARCHAR AS filename WHERE false)"
    # Each line is parsed once, in the one list of paths its profile needs: ``v`` (a
    # native or OCSF line: one place per column) or ``e`` (an ECS document: each
    # column's places one after the other).
    ecs_paths: list[str] = []
    ecs_at: list[list[int]] = []
    for column in COLUMNS:
        places = _places("ecs", column.name)
        ecs_at.append(list(range(len(ecs_paths), len(ecs_paths) + len(places))))
        ecs_paths += places
    native = _listed([_places("native", c.name)[0] for c in COLUMNS])
    ocsf = _listed([_places("ocsf", c.name)[0] for c in COLUMNS])
    ecs = _listed(ecs_paths)
    columns = ",\n  ".join(_column(i, c, ecs_at[i]) for i, c in enumerate(COLUMNS))
    return f"""CREATE TEMP VIEW events AS
SELECT
  {columns},
  line AS event,
  log_file,
  verified
FROM (
  SELECT
    o.json AS line,
    f.name AS log_file,
    f.verified AS verified,
    CASE
      WHEN starts_with(o.json, '{{"time":') THEN json_extract_string(o.json, {ocsf})
      WHEN NOT starts_with(o.json, '{{"@timestamp"') THEN json_extract_string(o.json, {native})
    END AS v,
    CASE
      WHEN starts_with(o.json, '{{"@timestamp"') THEN json_extract_string(o.json, {ecs})
    END AS e
  FROM {source} AS o
  JOIN {files_table} AS f ON f.path = o.filename
  WHERE o.json IS NOT NULL
)"""  # noqa: S608 (help text; literals quoted by string_literal)
