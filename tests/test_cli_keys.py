"""``asgi-audit keys`` run as a real command: ``python -m asgi_audit keys ...``.

Every run has its own ``HOME``, ``XDG_STATE_HOME`` and ``ASGI_AUDIT_KEY_DIR`` (or none of
the last two), so no test touches a real home. What the command prints is checked
whole, against values read back from the files it wrote (the key id computed here
with hashlib), and so are the files' modes; no secret ever reaches what ``show`` and
``public`` print, or an error message.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

import pytest

import asgi_audit
from asgi_audit.cli import main
from asgi_audit.proof.forward import SealingState, VerificationKey, public_key, seed_at
from asgi_audit.proof.keyfiles import load_state, store_state

PACKAGE_ROOT: Final = Path(asgi_audit.__file__).resolve().parent.parent
DEADLINE: Final = 60.0
BANG: Final = "!" * 78


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def keys_cmd(
    *argv: str, home: Path, env: dict[str, str] | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ASGI_AUDIT_KEY_DIR", "XDG_STATE_HOME", "HOME")
    }
    full = {**clean, "PYTHONPATH": str(PACKAGE_ROOT), "HOME": str(home), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "asgi_audit", "keys", *argv],
        input=stdin,
        capture_output=True,
        timeout=DEADLINE,
        check=False,
        env=full,
    )


def init(logs: Path, kdir: Path, home: Path) -> None:
    run = keys_cmd("init", "--log-dir", str(logs), "--key-dir", str(kdir), home=home)
    assert run.returncode == 0, run.stderr


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


def key_id(public: bytes, deployment: str) -> str:
    return hashlib.sha256(public + deployment.encode()).hexdigest()[:16]


def init_report(key_dir: Path, secret: Path | None, log_dir: Path) -> str:
    """What ``keys init`` prints, from the files it wrote."""
    sealing = json.loads((key_dir / "sealing.key").read_text())
    pk0 = public_key(bytes.fromhex(sealing["seed"]))  # the state is still at epoch 0
    where = "standard output" if secret is None else str(secret)
    last = "." if secret is None else f" and delete it here: {secret}"
    return "\n".join(
        [
            f"made the keys of deployment {sealing['deployment']} (key id "
            f"{key_id(pk0, sealing['deployment'])}) for the log directory {log_dir.resolve()}",
            f"epochs of {sealing['epoch_seconds']} s from {iso(sealing['origin'])}",
            "",
            f"sealing key:      {key_dir}/sealing.key",
            "                  stays on this host (0600): the app seals with it",
            f"verification key: {where}",
            "                  SECRET: checks every line and signature",
            f"public key:       {key_dir}/verification.pub",
            "                  may be published: checks signatures and the ledger",
            "",
            BANG,
            "!! The verification key is SECRET, and it does not belong on this host.",
            "!! Whoever holds it can forge every line of this log directory, past and future.",
            "!! Move it off this host now (a password manager, a vault, the auditor's",
            f"!! machine){last}",
            "!! verification.pub may be published.",
            BANG,
            "",
        ]
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path


# --- init -------------------------------------------------------------------------------


def test_init_writes_three_files_and_says_loudly_where_the_secret_one_goes(
    home: Path, logs: Path, tmp_path: Path
) -> None:
    kdir = tmp_path / "keys"
    run = keys_cmd("init", "--log-dir", str(logs), "--key-dir", str(kdir), home=home)
    assert (run.returncode, run.stderr) == (0, b"")
    assert run.stdout.decode() == init_report(kdir, kdir / "verification.key", logs)
    assert sorted(os.listdir(kdir)) == [
        "sealing.key",
        "sealing.lock",
        "verification.key",
        "verification.pub",
    ]
    assert mode(kdir) == 0o700
    assert mode(kdir / "sealing.key") == 0o600
    assert mode(kdir / "verification.key") == 0o600
    assert mode(kdir / "verification.pub") == 0o644
    state = SealingState.from_json((kdir / "sealing.key").read_bytes())
    secret = VerificationKey.from_json((kdir / "verification.key").read_bytes())
    public = VerificationKey.from_json((kdir / "verification.pub").read_bytes())
    assert secret.seed is not None
    assert (state.epoch, state.deployment.epoch_seconds) == (0, 900)
    assert state.deployment == secret.deployment == public.deployment
    assert secret.public() == public
    assert secret.line_key_at(0) == state.line_key()
    assert state.log_dir == str(logs.resolve())
    assert os.listdir(logs) == []  # nothing is written into the log directory


def test_init_with_out_dash_prints_only_the_secret_key_on_stdout(
    home: Path, logs: Path, tmp_path: Path
) -> None:
    kdir = tmp_path / "keys"
    run = keys_cmd(
        "init", "--log-dir", str(logs), "--key-dir", str(kdir), "--out", "-", "--epoch", "60",
        home=home,
    )  # fmt: skip
    assert run.returncode == 0
    assert run.stderr.decode() == init_report(kdir, None, logs)
    secret = VerificationKey.from_json(run.stdout)
    assert secret.seed is not None
    assert run.stdout == secret.to_json()
    assert sorted(os.listdir(kdir)) == ["sealing.key", "sealing.lock", "verification.pub"]
    assert VerificationKey.from_json((kdir / "verification.pub").read_bytes()) == secret.public()
    assert load_state(kdir).deployment.epoch_seconds == 60


def test_init_with_out_file_puts_the_secret_key_there(
    home: Path, logs: Path, tmp_path: Path
) -> None:
    kdir, out = tmp_path / "keys", tmp_path / "usb" / "app.key"
    out.parent.mkdir()
    run = keys_cmd(
        "init", "--log-dir", str(logs), "--key-dir", str(kdir), "--out", str(out), home=home
    )
    assert (run.returncode, run.stderr) == (0, b"")
    assert run.stdout.decode() == init_report(kdir, out, logs)
    assert mode(out) == 0o600
    assert VerificationKey.from_json(out.read_bytes()).seed is not None
    assert not (kdir / "verification.key").exists()


def test_init_refuses_an_out_file_in_no_directory_before_making_anything(
    home: Path, logs: Path, tmp_path: Path
) -> None:
    kdir, out = tmp_path / "keys", tmp_path / "nowhere" / "app.key"
    run = keys_cmd(
        "init", "--log-dir", str(logs), "--key-dir", str(kdir), "--out", str(out), home=home
    )
    assert (run.returncode, run.stdout) == (2, b"")
    assert run.stderr.decode() == f"asgi-audit: no such directory for --out: '{out.parent}'\n"
    assert not kdir.exists()


def test_init_finds_the_default_key_dir_from_the_environment(
    home: Path, logs: Path, tmp_path: Path
) -> None:
    name = hashlib.sha256(str(logs.resolve()).encode()).hexdigest()[:16]
    run = keys_cmd(
        "init", "--log-dir", str(logs), home=home, env={"ASGI_AUDIT_KEY_DIR": str(tmp_path / "k")}
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "k" / name / "sealing.key").is_file()
    xdg = tmp_path / "xdg"
    run = keys_cmd("init", "--log-dir", str(logs), home=home, env={"XDG_STATE_HOME": str(xdg)})
    assert run.returncode == 0, run.stderr
    assert (xdg / "asgi-audit" / name / "sealing.key").is_file()
    assert mode(xdg / "asgi-audit") == 0o700
    other = tmp_path / "other-logs"
    other.mkdir()
    run = keys_cmd("init", "--log-dir", str(other), home=home)
    assert run.returncode == 0, run.stderr
    other_name = hashlib.sha256(str(other.resolve()).encode()).hexdigest()[:16]
    default = home / ".local" / "state" / "asgi-audit" / other_name
    assert (default / "sealing.key").is_file()
    assert mode(home / ".local" / "state" / "asgi-audit") == 0o700
    assert run.stdout.decode() == init_report(default, default / "verification.key", other)


@pytest.mark.parametrize(
    ("extra", "inside"),
    [
        (["--key-dir", "{logs}/keys"], "the key directory '{logs}/keys'"),
        (["--key-dir", "{logs}"], "the key directory '{logs}'"),
        (
            ["--key-dir", "{tmp}/keys", "--out", "{logs}/v.key"],
            "the verification key's directory '{logs}'",
        ),
    ],
)
def test_init_refuses_to_put_a_secret_in_the_log_directory(
    home: Path, logs: Path, tmp_path: Path, extra: list[str], inside: str
) -> None:
    argv = [a.format(logs=logs, tmp=tmp_path) for a in extra]
    run = keys_cmd("init", "--log-dir", str(logs), *argv, home=home)
    assert (run.returncode, run.stdout) == (2, b"")
    assert run.stderr.decode() == (
        f"asgi-audit: cannot make keys: {inside.format(logs=logs.resolve())} is inside the "
        f"log directory '{logs.resolve()}': nothing secret may live there (whoever gets a "
        "copy of the logs would get the key); choose a key directory elsewhere (--key-dir, "
        "$ASGI_AUDIT_KEY_DIR)\n"
    )
    assert os.listdir(logs) == []
    assert not (tmp_path / "keys").exists()


def test_init_twice_needs_force_and_never_overwrites_a_verification_key(
    home: Path, logs: Path, tmp_path: Path
) -> None:
    kdir = tmp_path / "keys"
    argv = ("init", "--log-dir", str(logs), "--key-dir", str(kdir))
    assert keys_cmd(*argv, home=home).returncode == 0
    first = (kdir / "sealing.key").read_bytes()
    again = keys_cmd(*argv, home=home)
    assert (again.returncode, again.stdout) == (2, b"")
    assert again.stderr.decode() == (
        f"asgi-audit: a sealing key already exists in '{kdir}' (--force replaces it: the old "
        "verification key then checks only what was sealed before)\n"
    )
    forced = keys_cmd(*argv, "--force", home=home)
    assert forced.returncode == 2
    assert forced.stderr.decode() == (
        f"asgi-audit: '{kdir}/verification.key' exists: move it away first (an old "
        "verification key still checks what was sealed with its sealing key)\n"
    )
    assert (kdir / "sealing.key").read_bytes() == first
    (kdir / "verification.key").rename(tmp_path / "old.key")
    (kdir / "verification.pub").rename(tmp_path / "old.pub")
    forced = keys_cmd(*argv, "--force", home=home)
    assert (forced.returncode, forced.stderr) == (0, b"")
    assert (kdir / "sealing.key").read_bytes() != first
    old = VerificationKey.from_json((tmp_path / "old.key").read_bytes())
    new = VerificationKey.from_json((kdir / "verification.key").read_bytes())
    assert old.deployment.deployment != new.deployment.deployment


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--epoch", "59"], "argument --epoch: expected whole seconds from 60 to 604800, got '59'"),
        (["--epoch", "604801"], "argument --epoch: expected whole seconds from 60 to 604800, got '604801'"),  # noqa: E501
        (["--epoch", "15m"], "argument --epoch: expected whole seconds from 60 to 604800, got '15m'"),  # noqa: E501
    ],
)  # fmt: skip
def test_init_refuses_an_epoch_out_of_range(
    home: Path, logs: Path, tmp_path: Path, argv: list[str], error: str
) -> None:
    run = keys_cmd("init", "--log-dir", str(logs), "--key-dir", str(tmp_path / "k"), *argv,
                   home=home)  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.decode().endswith(f"asgi-audit keys init: error: {error}\n")
    assert not (tmp_path / "k").exists()


def test_init_needs_a_log_dir(home: Path) -> None:
    run = keys_cmd("init", home=home)
    assert run.returncode == 2
    assert run.stderr.decode().endswith(
        "asgi-audit keys init: error: the following arguments are required: --log-dir\n"
    )


# --- show -------------------------------------------------------------------------------


def show_text(kdir: Path, logs: Path, state: SealingState, epoch_now: int) -> str:
    d = state.deployment
    return (
        f"key directory:  {kdir}\n"
        f"log directory:  {logs.resolve()}\n"
        f"deployment:     {d.deployment}\n"
        f"epochs:         {d.epoch_seconds} s from {iso(d.origin)}\n"
        f"epoch:          {state.epoch} (from {iso(d.origin + state.epoch * d.epoch_seconds)})\n"
        f"epoch now:      {epoch_now}\n"
        f"public key:     {state.public_key().hex()} (of epoch {state.epoch})\n"
        f"genesis:        {state.genesis or '- (no ledger yet)'}\n"
    )


def test_show_prints_what_the_host_holds_and_nothing_secret(
    home: Path, logs: Path, tmp_path: Path
) -> None:
    kdir = tmp_path / "keys"
    init(logs, kdir, home)
    secret = VerificationKey.from_json((kdir / "verification.key").read_bytes())
    assert secret.seed is not None
    state = load_state(kdir)
    run = keys_cmd("show", "--key-dir", str(kdir), home=home)
    assert (run.returncode, run.stderr) == (0, b"")
    assert run.stdout.decode() == show_text(kdir, logs, state, 0)

    state.advance_to(5)
    state.genesis = "ef" * 32
    store_state(kdir, state)
    shown = keys_cmd("show", "--key-dir", str(kdir), "--json", home=home)
    assert (shown.returncode, shown.stderr) == (0, b"")
    info = json.loads(shown.stdout)
    assert info == {
        "key_dir": str(kdir),
        "log_dir": str(logs.resolve()),
        "deployment": state.deployment.deployment,
        "origin": state.deployment.origin,
        "epoch_seconds": 900,
        "epoch": 5,
        "epoch_start": float(state.deployment.origin + 5 * 900),
        "epoch_now": 0,
        "public_key": secret.public_key_at(5).hex(),
        "genesis": "ef" * 32,
    }
    assert info["public_key"] == public_key(seed_at(secret.seed, 0, 5)).hex()
    for output in (run.stdout, shown.stdout):
        for value in (secret.seed, seed_at(secret.seed, 0, 5), state.pseudonym_key):
            assert value.hex().encode() not in output


def test_show_finds_the_key_dir_of_a_log_dir(home: Path, logs: Path, tmp_path: Path) -> None:
    env = {"ASGI_AUDIT_KEY_DIR": str(tmp_path / "k")}
    assert keys_cmd("init", "--log-dir", str(logs), home=home, env=env).returncode == 0
    run = keys_cmd("show", "--log-dir", str(logs), home=home, env=env)
    assert (run.returncode, run.stderr) == (0, b"")
    name = hashlib.sha256(str(logs.resolve()).encode()).hexdigest()[:16]
    assert run.stdout.startswith(f"key directory:  {tmp_path}/k/{name}\n".encode())


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        ([], "one of the arguments --key-dir --log-dir is required"),
        (["--key-dir", "a", "--log-dir", "b"], "argument --log-dir: not allowed with argument --key-dir"),  # noqa: E501
    ],
)  # fmt: skip
def test_show_needs_one_place_to_look(home: Path, argv: list[str], error: str) -> None:
    run = keys_cmd("show", *argv, home=home)
    assert run.returncode == 2
    assert run.stderr.decode().endswith(f"asgi-audit keys show: error: {error}\n")


def test_show_says_what_is_missing_or_unsafe(home: Path, logs: Path, tmp_path: Path) -> None:
    kdir = tmp_path / "keys"
    run = keys_cmd("show", "--key-dir", str(kdir), home=home)
    assert (run.returncode, run.stdout) == (2, b"")
    assert run.stderr == (
        f"asgi-audit: cannot read the sealing key: no such key directory: '{kdir}'\n".encode()
    )
    init(logs, kdir, home)
    os.chmod(kdir, 0o770)  # noqa: S103 - writable by the group, to be refused
    run = keys_cmd("show", "--key-dir", str(kdir), home=home)
    assert run.returncode == 2
    assert run.stderr.decode() == (
        f"asgi-audit: cannot read the sealing key: the key directory '{kdir}' is writable by "
        "others (mode 770): chmod 700 it\n"
    )


# --- public -----------------------------------------------------------------------------


def test_public_prints_the_public_form(home: Path, logs: Path, tmp_path: Path) -> None:
    kdir = tmp_path / "keys"
    init(logs, kdir, home)
    published = (kdir / "verification.pub").read_bytes()
    for source in (kdir / "verification.key", kdir / "verification.pub"):
        run = keys_cmd("public", str(source), home=home)
        assert (run.returncode, run.stderr, run.stdout) == (0, b"", published)
    piped = keys_cmd("public", "-", home=home, stdin=(kdir / "verification.key").read_bytes())
    assert (piped.returncode, piped.stderr, piped.stdout) == (0, b"", published)


def test_public_refuses_a_sealing_key_without_showing_it(
    home: Path, logs: Path, tmp_path: Path
) -> None:
    kdir = tmp_path / "keys"
    init(logs, kdir, home)
    sealing = json.loads((kdir / "sealing.key").read_text())
    run = keys_cmd("public", str(kdir / "sealing.key"), home=home)
    assert (run.returncode, run.stdout) == (2, b"")
    assert run.stderr.decode() == (
        f"asgi-audit: cannot read the verification key: '{kdir}/sealing.key': not a "
        "verification key file: its format is 'asgi-audit-sealing-key/1' (expected "
        "'asgi-audit-verification-key/1' or 'asgi-audit-verification-key/public/1')\n"
    )
    assert sealing["seed"].encode() not in run.stderr


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"seed": "zz"}, "field 'seed' must be 64 lowercase hex digits"),
        ({"extra": True}, "unknown field 'extra' in a asgi-audit-verification-key/1 file"),
        ({"format": None}, "not a verification key file: its format is unknown (expected "
                           "'asgi-audit-verification-key/1' or "
                           "'asgi-audit-verification-key/public/1')"),
    ],
)  # fmt: skip
def test_public_names_what_is_wrong_with_a_key_file(
    home: Path, logs: Path, tmp_path: Path, change: dict[str, Any], error: str
) -> None:
    kdir = tmp_path / "keys"
    init(logs, kdir, home)
    data = json.loads((kdir / "verification.key").read_text())
    bad = tmp_path / "bad.key"
    bad.write_text(json.dumps({**data, **change}))
    run = keys_cmd("public", str(bad), home=home)
    assert (run.returncode, run.stdout) == (2, b"")
    assert run.stderr.decode() == (
        f"asgi-audit: cannot read the verification key: '{bad}': {error}\n"
    )
    assert data["seed"].encode() not in run.stderr
    piped = keys_cmd("public", "-", home=home, stdin=bad.read_bytes())
    assert piped.stderr.decode() == f"asgi-audit: cannot read the verification key: {error}\n"


def test_public_of_a_missing_file(home: Path, tmp_path: Path) -> None:
    run = keys_cmd("public", str(tmp_path / "nope.key"), home=home)
    assert (run.returncode, run.stdout) == (2, b"")
    assert run.stderr.decode() == (
        "asgi-audit: cannot read the verification key: No such file or directory: "
        f"'{tmp_path}/nope.key'\n"
    )


# --- in process -------------------------------------------------------------------------


def test_the_same_commands_in_process(
    logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kdir = tmp_path / "keys"
    assert main(["keys", "init", "--log-dir", str(logs), "--key-dir", str(kdir)]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == (init_report(kdir, kdir / "verification.key", logs), "")
    assert main(["keys", "show", "--key-dir", str(kdir)]) == 0
    out, _ = capsys.readouterr()
    assert out == show_text(kdir, logs, load_state(kdir), 0)
    assert main(["keys", "init", "--log-dir", str(logs), "--key-dir", str(kdir)]) == 2
    _, err = capsys.readouterr()
    assert err.startswith(f"asgi-audit: a sealing key already exists in '{kdir}'")
    assert main(["keys"]) == 2
