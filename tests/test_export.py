"""``asgi-audit export --parquet``: the checked trail as a Parquet archive.

Trails are written by real Auditors (tests.test_sql.write_trail); the archives
are read back with a real DuckDB.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import duckdb
import pytest

from asgi_audit.cli import main as cli_main
from asgi_audit.cli.export import METADATA_KEY
from tests.test_sql import USERS, _change_a_gzipped_line, key_file, lines_of, write_trail


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    log_dir = tmp_path / "logs"
    write_trail(log_dir)
    return log_dir


def export(log_dir: Path, out: Path, *extra: str, key: bool = True) -> int:
    argv = ["export", str(log_dir), "--parquet", str(out), *extra]
    if key:
        argv += ["--verification-key", key_file(log_dir)]
    return cli_main(argv)


def read(
    path: Path, query: str = "SELECT * FROM archive ORDER BY timestamp"
) -> list[dict[str, Any]]:
    con = duckdb.connect()
    source = f"'{path}/**/*.parquet'" if path.is_dir() else f"'{path}'"
    con.execute(
        f"CREATE VIEW archive AS SELECT * FROM read_parquet({source}, hive_partitioning = false)"  # noqa: S608
    )
    cursor = con.execute(query)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def check(path: Path) -> dict[str, Any]:
    [(value,)] = duckdb.execute(
        "SELECT value FROM parquet_kv_metadata(?) WHERE key = ?", [str(path), METADATA_KEY]
    ).fetchall()
    found: dict[str, Any] = json.loads(value)
    return found


def test_the_archive_holds_every_event_with_its_line_as_written(
    trail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "trail.parquet"
    capsys.readouterr()
    assert export(trail, out) == 0
    printed = capsys.readouterr()
    archived = read(out)
    files = [p for p in trail.iterdir() if ".jsonl" in p.name and not p.name.startswith(".")]
    written = [line.rstrip(b"\n") for p in files for line in lines_of(p)]
    assert printed.out == f"{len(written):,} events from {len(files):,} files into {out}\n"
    assert sorted(r["event"].encode() for r in archived) == sorted(written)
    assert all(r["verified"] for r in archived)
    auth = [r for r in archived if r["category"] == "auth"]
    assert sorted(r["user_id"] for r in auth) == sorted(f"user-{n}" for n in range(USERS))
    assert os.stat(out).st_mode & 0o777 == 0o600
    meta = check(out)
    assert (meta["verified"], meta["verdict"], meta["scheme"]) == (True, "ok", "forward-secure")
    assert meta["key_id"]
    assert {f["name"] for f in meta["files"]} == {p.name for p in files}


def test_a_file_that_does_not_verify_is_left_out_or_marked_and_the_metadata_says_so(
    trail: Path, tmp_path: Path
) -> None:
    name = _change_a_gzipped_line(trail)
    refused, flagged = tmp_path / "refused.parquet", tmp_path / "flagged.parquet"
    assert export(trail, refused) == 1
    assert export(trail, flagged, "--unverified", "flag") == 1
    assert not [r for r in read(refused) if r["user_id"] == "mallory" or r["log_file"] == name]
    marked = [r for r in read(flagged) if r["log_file"] == name]
    assert marked
    assert not any(r["verified"] for r in marked)
    assert "mallory" in {r["user_id"] for r in marked}
    for path, mode in ((refused, "refuse"), (flagged, "flag")):
        meta = check(path)
        assert (meta["verdict"], meta["unverified"]) == ("altered", mode)
        [bad] = [f for f in meta["files"] if not f["verified"]]
        assert bad["name"] == name
        assert bad["problem"].startswith("modified")


def test_filters_choose_categories_and_a_time_window(trail: Path, tmp_path: Path) -> None:
    everything = (
        read(tmp_path / "all.parquet") if export(trail, tmp_path / "all.parquet") == 0 else []
    )
    stamps = sorted(r["timestamp"] for r in everything if r["category"] == "auth")
    since, until = stamps[5], stamps[20]
    out = tmp_path / "window.parquet"
    assert export(trail, out, "-c", "auth", "--since", since.isoformat(),
                  "--until", until.isoformat()) == 0  # fmt: skip
    chosen = read(out)
    assert [r["timestamp"] for r in chosen] == stamps[5:20]
    assert {r["category"] for r in chosen} == {"auth"}


def test_partitions_by_category_and_day_are_private_files(trail: Path, tmp_path: Path) -> None:
    out = tmp_path / "archive"
    assert export(trail, out, "--partition-by", "category,day") == 0
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert {p.parent.parent.name for p in files} == {
        "category=auth",
        "category=data_access",
        "category=api_audit",
        "category=audit",
    }
    assert all(p.parent.name.startswith("day=20") for p in files)
    assert all(os.stat(p).st_mode & 0o777 == 0o600 for p in files)
    assert all(os.stat(p).st_mode & 0o777 == 0o700 for p in out.rglob("*") if p.is_dir())
    counts = read(out, "SELECT category, count(*) AS n FROM archive GROUP BY 1")
    assert {r["category"]: r["n"] for r in counts if r["category"] != "audit"} == {
        "auth": USERS,
        "data_access": USERS,
        "api_audit": USERS,
    }


def test_an_export_never_overwrites(
    trail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "kept.parquet"
    out.write_bytes(b"an archive of last month")
    capsys.readouterr()
    assert export(trail, out) == 2
    assert "exists" in capsys.readouterr().err
    assert out.read_bytes() == b"an archive of last month"
    link = tmp_path / "link.parquet"
    link.symlink_to(tmp_path / "nowhere")
    assert export(trail, link) == 2
    assert not (tmp_path / "nowhere").exists()


def test_a_bad_partition_is_a_usage_error(trail: Path, tmp_path: Path) -> None:
    assert export(trail, tmp_path / "x", "--partition-by", "user_id") == 2
    assert not (tmp_path / "x").exists()


def test_an_archive_of_a_file_changed_while_it_was_read_is_not_kept(
    trail: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.test_sql import rewritten_after_the_check

    target = rewritten_after_the_check(trail, monkeypatch)
    out = tmp_path / "archive.parquet"
    capsys.readouterr()
    assert export(trail, out) == 1
    err = capsys.readouterr().err
    assert f"{target.name} changed while it was read" in err
    assert f"{out} was not kept" in err
    assert not out.exists()
