"""The forward-secure key files on a real file system, and from real processes.

Where the key directory is (its name computed here from the log directory's path with
hashlib), its modes whatever the umask, the refusals (a group- or world-writable
directory, a symlink, another user's directory, a key directory inside the log
directory, a sealing key others can read), the never-backwards replacement of
``sealing.key`` under its lock, with two real processes storing epochs in random
orders while a third reads, and the verification key files.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

import asgi_audit
from asgi_audit.proof.forward import KeyFormatError, SealingState, seed_at
from asgi_audit.proof.keydir import InsecureKeyError, check_placement, default_key_dir
from asgi_audit.proof.keyfiles import (
    KeyMismatchError,
    init_keys,
    load_state,
    read_verification_key,
    store_state,
    write_verification_key,
)

NOW: Final = 1_700_000_123.75
PACKAGE_ROOT: Final = Path(asgi_audit.__file__).resolve().parent.parent
DEADLINE: Final = 60.0


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def name_of(log_dir: Path) -> str:
    """The test's own name of a log directory's key directory."""
    return hashlib.sha256(str(log_dir.resolve()).encode()).hexdigest()[:16]


@contextlib.contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


@contextlib.contextmanager
def refused(kind: type[Exception], message: str) -> Iterator[None]:
    with pytest.raises(kind) as caught:
        yield
    assert str(caught.value) == message


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    return tmp_path / "keys"


# --- where the keys live ----------------------------------------------------------------


def test_the_default_key_dir_follows_the_environment(logs: Path, tmp_path: Path) -> None:
    name = name_of(logs)
    home = {"HOME": "/home/alice"}
    assert default_key_dir(logs, environ={**home, "ASGI_AUDIT_KEY_DIR": "/etc/keys"}) == Path(
        f"/etc/keys/{name}"
    )
    assert default_key_dir(logs, environ={**home, "XDG_STATE_HOME": "/state"}) == Path(
        f"/state/asgi-audit/{name}"
    )
    assert default_key_dir(logs, environ={**home, "XDG_STATE_HOME": "relative"}) == Path(
        f"/home/alice/.local/state/asgi-audit/{name}"
    )
    assert default_key_dir(logs, environ={**home, "ASGI_AUDIT_KEY_DIR": ""}) == Path(
        f"/home/alice/.local/state/asgi-audit/{name}"
    )
    assert default_key_dir(logs, environ=home) == Path(
        f"/home/alice/.local/state/asgi-audit/{name}"
    )


def test_each_log_directory_has_its_own_key_dir_whatever_it_is_called(
    logs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"HOME": "/home/alice"}
    other = tmp_path / "other"
    other.mkdir()
    link = tmp_path / "link"
    link.symlink_to(logs)
    assert default_key_dir(logs, environ=env) != default_key_dir(other, environ=env)
    assert default_key_dir(link, environ=env) == default_key_dir(logs, environ=env)
    monkeypatch.chdir(tmp_path)
    assert default_key_dir("logs", environ=env) == default_key_dir(logs, environ=env)
    assert default_key_dir("logs", environ=env).name == name_of(logs)


def test_a_default_key_dir_inside_the_log_directory_is_refused(logs: Path) -> None:
    where = logs.resolve()
    with refused(
        InsecureKeyError,
        f"the key directory '{where}/{name_of(logs)}' is inside the log directory '{where}': "
        "nothing secret may live there (whoever gets a copy of the logs would get the key); "
        "choose a key directory elsewhere (--key-dir, $ASGI_AUDIT_KEY_DIR)",
    ):
        default_key_dir(logs, environ={"ASGI_AUDIT_KEY_DIR": str(logs)})


def test_check_placement_sees_through_symlinks_and_prefixes(logs: Path, tmp_path: Path) -> None:
    (tmp_path / "into-logs").symlink_to(logs)
    for inside in (logs, logs / "k", logs / "a" / "b", tmp_path / "into-logs" / "k"):
        with pytest.raises(InsecureKeyError):
            check_placement(inside, logs)
    check_placement(tmp_path / "logs2", logs)  # a shared prefix is not inside
    check_placement(tmp_path / "keys", logs)
    check_placement(tmp_path, logs)  # the log directory inside the key directory is fine


# --- init -------------------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077])
def test_init_makes_a_0700_directory_and_a_0600_sealing_key(
    logs: Path, tmp_path: Path, mask: int
) -> None:
    keys = tmp_path / "state" / "asgi-audit" / "k"
    with umask(mask):
        state, key = init_keys(logs, keys, epoch_seconds=600, now=NOW)
    assert sorted(os.listdir(keys)) == ["sealing.key", "sealing.lock"]
    assert (mode(tmp_path / "state"), mode(tmp_path / "state" / "asgi-audit")) == (0o700, 0o700)
    assert mode(keys) == 0o700
    assert mode(keys / "sealing.key") == 0o600
    assert mode(keys / "sealing.lock") == 0o600
    stored = json.loads((keys / "sealing.key").read_text())
    assert stored["format"] == "asgi-audit-sealing-key/1"
    assert (stored["origin"], stored["epoch_seconds"], stored["epoch"]) == (1_700_000_123, 600, 0)
    assert stored["log_dir"] == str(logs.resolve())
    assert stored["genesis"] is None
    assert stored["deployment"] == state.deployment.deployment == key.deployment.deployment
    assert key.seed is not None
    assert stored["seed"] == key.seed.hex()
    assert (keys / "sealing.key").read_bytes() == state.to_json()
    assert key.public_key == state.public_key()
    assert key.line_key_at(0) == state.line_key()
    assert bytes.fromhex(stored["pseudonym_key"]) == state.pseudonym_key
    assert stored["pseudonym_key"] != stored["seed"]


def test_two_inits_make_different_keys(tmp_path: Path, logs: Path) -> None:
    a, key_a = init_keys(logs, tmp_path / "a", now=NOW)
    b, key_b = init_keys(logs, tmp_path / "b", now=NOW)
    assert a.deployment.deployment != b.deployment.deployment
    assert key_a.seed != key_b.seed
    assert a.pseudonym_key != b.pseudonym_key


def test_init_refuses_to_replace_a_sealing_key_unless_forced(logs: Path, keys: Path) -> None:
    first, _ = init_keys(logs, keys, now=NOW)
    before = (keys / "sealing.key").read_bytes()
    with refused(
        FileExistsError,
        f"a sealing key already exists in '{keys}': it seals that log directory now; making "
        "a new one (force) means the old verification key checks only what was sealed before",
    ):
        init_keys(logs, keys, now=NOW)
    assert (keys / "sealing.key").read_bytes() == before
    second, _ = init_keys(logs, keys, now=NOW + 5, force=True)
    assert second.deployment != first.deployment
    assert (keys / "sealing.key").read_bytes() == second.to_json()
    assert sorted(os.listdir(keys)) == ["sealing.key", "sealing.lock"]


def test_init_refuses_a_key_dir_inside_the_log_dir_and_creates_nothing(logs: Path) -> None:
    with pytest.raises(InsecureKeyError, match="is inside the log directory"):
        init_keys(logs, logs / "keys", now=NOW)
    with pytest.raises(InsecureKeyError, match="is inside the log directory"):
        init_keys(logs, logs, now=NOW)
    assert os.listdir(logs) == []


def test_init_refuses_a_bad_epoch_before_making_anything(logs: Path, keys: Path) -> None:
    with refused(ValueError, "epoch_seconds must be a whole number from 60 to 604800, got 59"):
        init_keys(logs, keys, epoch_seconds=59, now=NOW)
    assert not keys.exists()


@pytest.mark.parametrize("bits", [0o020, 0o002, 0o777])
def test_a_key_dir_writable_by_others_is_refused(logs: Path, keys: Path, bits: int) -> None:
    keys.mkdir(mode=0o700)
    os.chmod(keys, 0o700 | bits)
    with refused(
        InsecureKeyError,
        f"the key directory '{keys}' is writable by others (mode {0o700 | bits:o}): chmod 700 it",
    ):
        init_keys(logs, keys, now=NOW)
    assert os.listdir(keys) == []


def test_a_group_readable_key_dir_is_accepted(logs: Path, keys: Path) -> None:
    keys.mkdir()
    os.chmod(keys, 0o750)  # noqa: S103 - readable by the group, on purpose
    init_keys(logs, keys, now=NOW)
    assert mode(keys / "sealing.key") == 0o600


def test_a_symlinked_key_dir_is_refused(logs: Path, keys: Path, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    keys.symlink_to(real)
    with refused(
        InsecureKeyError, f"the key directory '{keys}' is a symlink: name the real directory"
    ):
        init_keys(logs, keys, now=NOW)
    assert os.listdir(real) == []
    init_keys(logs, real, now=NOW)
    with pytest.raises(InsecureKeyError, match="is a symlink"):
        load_state(keys)


def test_a_key_dir_of_another_user_is_refused(logs: Path, keys: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can give a directory to another user")
    keys.mkdir(mode=0o700)
    os.chown(keys, 65534, 65534)
    with refused(
        InsecureKeyError, f"the key directory '{keys}' belongs to another user (uid 65534)"
    ):
        init_keys(logs, keys, now=NOW)


def test_a_key_dir_that_is_a_file_is_refused(logs: Path, keys: Path) -> None:
    keys.write_text("x")
    with refused(NotADirectoryError, f"the key directory '{keys}' is not a directory"):
        init_keys(logs, keys, now=NOW)


# --- load -------------------------------------------------------------------------------


def test_load_state_reads_what_init_wrote(logs: Path, keys: Path) -> None:
    state, key = init_keys(logs, keys, now=NOW)
    loaded = load_state(keys, log_dir=logs)
    assert loaded.to_json() == state.to_json()
    assert loaded.public_key() == key.public_key


def test_load_state_checks_the_log_directory(logs: Path, keys: Path, tmp_path: Path) -> None:
    init_keys(logs, keys, now=NOW)
    other = tmp_path / "other"
    with refused(
        KeyMismatchError,
        f"the sealing key in '{keys}' is bound to the log directory '{logs.resolve()}', "
        f"not '{other}'",
    ):
        load_state(keys, log_dir=other)


def test_load_state_says_what_is_missing(keys: Path, logs: Path) -> None:
    with refused(FileNotFoundError, f"no such key directory: '{keys}'"):
        load_state(keys)
    keys.mkdir(mode=0o700)
    with refused(
        FileNotFoundError, f"no sealing key in '{keys}' (make one with 'asgi-audit keys init')"
    ):
        load_state(keys)


def test_a_sealing_key_others_can_read_is_refused(logs: Path, keys: Path) -> None:
    init_keys(logs, keys, now=NOW)
    os.chmod(keys / "sealing.key", 0o640)
    with refused(
        InsecureKeyError,
        f"the sealing key '{keys}/sealing.key' can be read by others (mode 640): it may "
        "have leaked; chmod 600 it, and consider making a new key",
    ):
        load_state(keys)


def test_a_symlinked_sealing_key_is_not_followed(logs: Path, keys: Path, tmp_path: Path) -> None:
    init_keys(logs, keys, now=NOW)
    os.replace(keys / "sealing.key", tmp_path / "elsewhere.key")
    (keys / "sealing.key").symlink_to(tmp_path / "elsewhere.key")
    with pytest.raises(OSError) as caught:  # noqa: PT011 - the errno is checked
        load_state(keys)
    assert caught.value.errno == errno.ELOOP


def test_a_damaged_sealing_key_is_named_without_its_seed(logs: Path, keys: Path) -> None:
    init_keys(logs, keys, now=NOW)
    data = json.loads((keys / "sealing.key").read_text())
    data["seed"] = data["seed"][:-1]
    (keys / "sealing.key").write_text(json.dumps(data))
    with refused(
        KeyFormatError,
        f"the sealing key '{keys}/sealing.key' is damaged: "
        "field 'seed' must be 64 lowercase hex digits",
    ):
        load_state(keys)


# --- store ------------------------------------------------------------------------------


def test_store_moves_the_file_forward_and_erases_the_old_seed(logs: Path, keys: Path) -> None:
    state, key = init_keys(logs, keys, now=NOW)
    assert key.seed is not None
    state.advance_to(3)
    assert store_state(keys, state) == 3
    text = (keys / "sealing.key").read_bytes()
    assert text == state.to_json()
    assert json.loads(text)["seed"] == seed_at(key.seed, 0, 3).hex()
    assert key.seed.hex().encode() not in text
    assert sorted(os.listdir(keys)) == ["sealing.key", "sealing.lock"]
    assert mode(keys / "sealing.key") == 0o600


def test_store_never_moves_the_file_back(logs: Path, keys: Path) -> None:
    state, _ = init_keys(logs, keys, now=NOW)
    behind = state.copy()
    state.advance_to(5)
    store_state(keys, state)
    before = os.stat(keys / "sealing.key")
    behind.advance_to(2)
    assert store_state(keys, behind) == 5
    after = os.stat(keys / "sealing.key")
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert load_state(keys).epoch == 5
    assert behind.epoch == 2  # the caller's state is its own business


def test_store_keeps_a_genesis_either_side_knows(logs: Path, keys: Path) -> None:
    state, _ = init_keys(logs, keys, now=NOW)
    ahead = state.copy()
    ahead.advance_to(4)
    store_state(keys, ahead)
    state.genesis = "ab" * 32
    assert store_state(keys, state) == 4
    on_disk = load_state(keys)
    assert (on_disk.epoch, on_disk.genesis) == (4, "ab" * 32)
    assert on_disk.agrees_with(ahead)
    ahead.advance_to(6)  # knows no genesis: the file's is kept
    assert store_state(keys, ahead) == 6
    assert load_state(keys).genesis == "ab" * 32
    conflicting = load_state(keys)
    conflicting.genesis = "cd" * 32
    with refused(KeyMismatchError, f"the sealing key in '{keys}' names another genesis record"):
        store_state(keys, conflicting)


def test_store_refuses_another_key(logs: Path, keys: Path, tmp_path: Path) -> None:
    state, _ = init_keys(logs, keys, now=NOW)
    other, _ = init_keys(logs, tmp_path / "other", now=NOW)
    before = (keys / "sealing.key").read_bytes()
    with refused(
        KeyMismatchError,
        f"the sealing key in '{keys}' is not this state's: another deployment "
        f"({state.deployment.deployment}, not {other.deployment.deployment}), seed or log "
        "directory",
    ):
        store_state(keys, other)
    forked = SealingState(state.deployment, 1, bytes(32), state.pseudonym_key, state.log_dir)
    with pytest.raises(KeyMismatchError):
        store_state(keys, forked)
    assert (keys / "sealing.key").read_bytes() == before


WRITER: Final = r"""
import json, os, random, sys, time
from asgi_audit.proof.forward import SealingState
from asgi_audit.proof.keyfiles import store_state

key_dir, initial, last, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
start = SealingState.from_json(open(initial, "rb").read())
epochs = list(range(1, last + 1))
random.Random(seed).shuffle(epochs)
seen = []
print("ready", flush=True)
go = initial + ".go"
deadline = time.monotonic() + 60
while not os.path.exists(go) and time.monotonic() < deadline:
    time.sleep(0.001)
for epoch in epochs:
    state = start.copy()
    state.advance_to(epoch)
    seen.append((epoch, store_state(key_dir, state)))
print(json.dumps(seen))
"""


def test_two_processes_storing_in_random_orders_never_move_the_file_back(
    logs: Path, keys: Path, tmp_path: Path
) -> None:
    state, _ = init_keys(logs, keys, now=NOW)
    initial = tmp_path / "initial.json"
    initial.write_bytes(state.to_json())
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
    last = 120
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(keys), str(initial), str(last), str(seed)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for seed in (1, 2)
    ]
    for writer in writers:
        assert writer.stdout is not None
        assert writer.stdout.readline() == b"ready\n"
    Path(f"{initial}.go").touch()  # both start storing at once
    observed = []
    deadline = time.monotonic() + DEADLINE
    while any(w.poll() is None for w in writers) and time.monotonic() < deadline:
        observed.append(load_state(keys).epoch)  # never a torn or damaged file
    results = [w.communicate(timeout=DEADLINE) for w in writers]
    ahead_of_me = 0
    for writer, (out, err) in zip(writers, results, strict=True):
        assert (writer.returncode, err) == (0, b"")
        stored = json.loads(out)
        assert sorted(e for e, _ in stored) == list(range(1, last + 1))
        after = [file_epoch for _, file_epoch in stored]
        assert after == sorted(after), "the file moved back between two stores"
        for i, (epoch, file_epoch) in enumerate(stored):
            mine = max(e for e, _ in stored[: i + 1])
            assert file_epoch >= mine >= epoch
            ahead_of_me += file_epoch > mine  # the other process had moved the file on
    assert ahead_of_me > 0, "the two writers did not overlap"
    assert observed == sorted(observed)
    final = load_state(keys)
    assert final.epoch == last
    assert final.agrees_with(state)
    assert sorted(os.listdir(keys)) == ["sealing.key", "sealing.lock"]


# --- verification key files -------------------------------------------------------------


@pytest.mark.parametrize("mask", [0o000, 0o077])
def test_verification_keys_are_written_0600_secret_and_0644_public(
    logs: Path, keys: Path, tmp_path: Path, mask: int
) -> None:
    _, key = init_keys(logs, keys, now=NOW)
    with umask(mask):
        write_verification_key(tmp_path / "v.key", key)
        write_verification_key(tmp_path / "v.pub", key.public())
    assert mode(tmp_path / "v.key") == 0o600
    assert mode(tmp_path / "v.pub") == 0o644
    assert (tmp_path / "v.key").read_bytes() == key.to_json()
    assert (tmp_path / "v.pub").read_bytes() == key.public().to_json()
    assert read_verification_key(tmp_path / "v.key") == key
    assert read_verification_key(tmp_path / "v.pub") == key.public()


def test_a_verification_key_is_never_replaced(logs: Path, keys: Path, tmp_path: Path) -> None:
    _, key = init_keys(logs, keys, now=NOW)
    (tmp_path / "v.key").write_text("old")
    with pytest.raises(FileExistsError):
        write_verification_key(tmp_path / "v.key", key)
    assert (tmp_path / "v.key").read_text() == "old"
    (tmp_path / "link.key").symlink_to(tmp_path / "target.key")
    with pytest.raises(FileExistsError):
        write_verification_key(tmp_path / "link.key", key)
    assert not (tmp_path / "target.key").exists()


def test_reading_a_verification_key_refuses_what_is_not_one(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with refused(OSError, f"not a regular file: '{fifo}'"):
        read_verification_key(fifo)
    with refused(OSError, f"not a regular file: '{tmp_path}'"):
        read_verification_key(tmp_path)
    (tmp_path / "bad.key").write_text('{"format": "asgi-audit-sealing-key/1"}')
    with refused(
        KeyFormatError,
        f"'{tmp_path}/bad.key': not a verification key file: its format is "
        "'asgi-audit-sealing-key/1' (expected 'asgi-audit-verification-key/1' or "
        "'asgi-audit-verification-key/public/1')",
    ):
        read_verification_key(tmp_path / "bad.key")
    (tmp_path / "big.key").write_bytes(b" " * 70_000)
    with refused(
        KeyFormatError,
        f"'{tmp_path}/big.key': longer than 65536 bytes: not a verification key file",
    ):
        read_verification_key(tmp_path / "big.key")
