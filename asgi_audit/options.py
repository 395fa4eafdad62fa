"""The Auditor's options, checked once and turned into the objects that use them.

API. Every option is validated when the Auditor is built; a bad value is a
``ValueError`` that quotes it (as Loguru and Uvicorn do), never a failure later
in the writer.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .proof.integrity import derive_chain_key, key_id
from .proof.keycheck import KEY_ENV, check_key
from .record.encoding import DEFAULT_FIELD_CAPS, Caps
from .record.events import category_filename
from .record.pipeline import OutputFormat, SessionIdMode
from .record.redaction import Redactor
from .record.scanner import SecretRule
from .sinks.base import Sink
from .sinks.group import check_sinks
from .store.files import LogDirectory
from .store.rotation import RotationPolicy, parse_interval
from .store.stream import OverflowPolicy
from .store.writer import FsyncPolicy

__all__ = ("KEY_ENV", "Settings", "build_settings")


def _overflow(value: OverflowPolicy | Mapping[str, OverflowPolicy]) -> dict[str, OverflowPolicy]:
    policies: Mapping[str, str] = {"*": value} if isinstance(value, str) else value
    for category, policy in policies.items():
        if policy not in ("block", "drop"):
            raise ValueError(
                f"Invalid overflow policy for {category!r}: {policy!r} (use 'block' or 'drop')"
            )
        if category != "*":
            category_filename(category)  # validates the name
    return dict(policies)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything an Auditor needs, checked."""

    directory: LogDirectory
    rotation: RotationPolicy
    overflow: dict[str, OverflowPolicy]
    capacity: int
    block_timeout: float | None
    fsync: FsyncPolicy
    fsync_interval: float
    batch_interval: float
    shutdown_timeout: float
    self_audit: bool
    integrity: bool
    sealing: str
    key_dir: Path | None
    checkpoint_interval: float | None
    redactor: Redactor | None
    caps: Caps
    session_ids: SessionIdMode
    key: bytes | None
    sinks: tuple[Sink, ...]
    output_format: OutputFormat
    summary: dict[str, Any]


def build_settings(
    *,
    log_dir: str | os.PathLike[str],
    queue_capacity: int,
    overflow: OverflowPolicy | Mapping[str, OverflowPolicy],
    block_timeout: float | None,
    fsync: FsyncPolicy,
    fsync_interval_ms: float,
    rotate_max_mb: float | None,
    rotate_interval: str | float | None,
    retain_count: int | None,
    retain_days: float | None,
    compress_rotated: bool,
    shutdown_timeout: float,
    redact: bool,
    secret_words: Iterable[str] | None,
    extra_secret_words: Iterable[str],
    remove_secret_words: Iterable[str],
    secret_rules: Iterable[SecretRule],
    field_caps: Mapping[str, int] | None,
    max_string_chars: int,
    max_event_bytes: int,
    session_ids: SessionIdMode,
    key: bytes | str | None,
    dir_mode: int,
    file_mode: int,
    allow_insecure_dir: bool,
    self_audit: bool,
    integrity: bool,
    checkpoint_interval_s: float | None,
    sinks: Iterable[Sink] = (),
    sealing: str = "forward-secure",
    key_dir: str | os.PathLike[str] | None = None,
    output_format: OutputFormat = "native",
    batch_interval_ms: float = 100.0,
) -> Settings:
    """Check every option of ``Auditor(...)`` and build its objects.

    Raises:
        ValueError: quoting the option and the value that cannot be used.
    """
    if not isinstance(queue_capacity, int) or queue_capacity < 1:
        raise ValueError(f"queue_capacity must be a positive integer, got {queue_capacity!r}")
    if shutdown_timeout <= 0:
        raise ValueError(f"shutdown_timeout must be positive, got {shutdown_timeout!r}")
    if block_timeout is not None and block_timeout < 0:
        raise ValueError(f"block_timeout must not be negative, got {block_timeout!r}")
    if fsync not in ("always", "interval", "never"):
        raise ValueError(f"fsync must be 'always', 'interval' or 'never', got {fsync!r}")
    if fsync_interval_ms <= 0:
        raise ValueError(f"fsync_interval_ms must be positive, got {fsync_interval_ms!r}")
    if isinstance(batch_interval_ms, bool) or not (
        isinstance(batch_interval_ms, int | float) and 0 <= batch_interval_ms <= 60_000
    ):
        raise ValueError(
            f"batch_interval_ms must be from 0 to 60,000 (milliseconds), got {batch_interval_ms!r}"
        )
    if session_ids not in ("hash", "raw", "omit"):
        raise ValueError(f"session_ids must be 'hash', 'raw' or 'omit', got {session_ids!r}")
    if checkpoint_interval_s is not None and checkpoint_interval_s <= 0:
        raise ValueError(f"checkpoint_interval_s must be positive, got {checkpoint_interval_s!r}")
    if rotate_max_mb is not None and rotate_max_mb <= 0:
        raise ValueError(f"rotate_max_mb must be positive, got {rotate_max_mb!r}")
    if sealing not in ("forward-secure", "unkeyed"):
        raise ValueError(
            f"sealing must be 'forward-secure' or 'unkeyed' (an explicit opt-out), got {sealing!r}"
        )
    overflows = _overflow(overflow)
    rotation = RotationPolicy(
        max_bytes=None if rotate_max_mb is None else max(1024, int(rotate_max_mb * 2**20)),
        interval=parse_interval(rotate_interval),
        keep=retain_count,
        max_age=None if retain_days is None else retain_days * 86400.0,
        compress=compress_rotated,
    )
    directory = LogDirectory(
        Path(log_dir),
        dir_mode=dir_mode,
        file_mode=file_mode,
        allow_insecure=allow_insecure_dir,
        sync_dir=fsync != "never",
    )
    redactor = (
        Redactor(
            secret_words=secret_words,
            extra_words=extra_secret_words,
            remove_words=remove_secret_words,
            extra_rules=secret_rules,
        )
        if redact
        else None
    )
    caps = Caps(
        fields={**DEFAULT_FIELD_CAPS, **(field_caps or {})},
        default_chars=max_string_chars,
        max_event_bytes=max_event_bytes,
    )
    source = "option"
    if key is None:
        key = os.environ.get(KEY_ENV) or None
        source = KEY_ENV
    key_bytes = key.encode() if isinstance(key, str) else key
    if key_bytes is not None:
        check_key(key_bytes, "Auditor(key=...)" if source == "option" else f"${KEY_ENV}")
    summary = {
        "log_dir": str(directory.path),
        "queue_capacity": queue_capacity,
        "overflow": dict(overflows),
        "block_timeout": block_timeout,
        "fsync": fsync,
        "fsync_interval_ms": fsync_interval_ms,
        "batch_interval_ms": batch_interval_ms,
        "rotate_max_mb": rotate_max_mb,
        "rotate_interval": rotate_interval,
        "retain_count": retain_count,
        "retain_days": retain_days,
        "compress_rotated": compress_rotated,
        "shutdown_timeout": shutdown_timeout,
        "redact": redact,
        "session_ids": session_ids,
        "key_source": source if key_bytes is not None else "sealing key file",
        "max_event_bytes": max_event_bytes,
        "dir_mode": f"{dir_mode:o}",
        "file_mode": f"{file_mode:o}",
        "allow_insecure_dir": allow_insecure_dir,
        "integrity": integrity,
        "sealing": (
            "static key (hmac-sha256, not forward-secure)"
            if key_bytes
            else "forward-secure"
            if sealing == "forward-secure"
            else "unkeyed (sha256: not tamper-proof)"
        )
        if integrity
        else "off",
        "mac_key_id": key_id(derive_chain_key(key_bytes)),
        "checkpoint_interval_s": checkpoint_interval_s,
    }
    checked_sinks = check_sinks(sinks)
    summary["sinks"] = [sink.name for sink in checked_sinks]
    if output_format not in ("native", "ecs", "ocsf"):
        raise ValueError(f"output_format must be 'native', 'ecs' or 'ocsf', got {output_format!r}")
    summary["output_format"] = output_format
    return Settings(
        directory=directory,
        rotation=rotation,
        overflow=overflows,
        capacity=queue_capacity,
        block_timeout=block_timeout,
        fsync=fsync,
        fsync_interval=fsync_interval_ms / 1000,
        batch_interval=batch_interval_ms / 1000,
        shutdown_timeout=shutdown_timeout,
        self_audit=self_audit,
        integrity=integrity,
        sealing=sealing,
        key_dir=None if key_dir is None else Path(key_dir),
        checkpoint_interval=checkpoint_interval_s,
        redactor=redactor,
        caps=caps,
        session_ids=session_ids,
        key=key_bytes,
        sinks=checked_sinks,
        output_format=output_format,
        summary=summary,
    )
