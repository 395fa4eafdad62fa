"""Helpers shared by the tests: reading what the writer put in a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSON Lines file, parsed; [] when the file does not exist.

    Fails when the file ends inside a line or a line is not one JSON object.
    """
    if not path.exists():
        return []
    data = path.read_bytes()
    assert data.endswith(b"\n") or not data, "the file ends inside a line"
    events = []
    for line in data.split(b"\n")[:-1]:
        event = json.loads(line)
        assert isinstance(event, dict)
        events.append(event)
    return events
