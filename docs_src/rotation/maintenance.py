"""Rotate from outside the app (a cron job, a sidecar): safe while apps write."""

import argparse

from asgi_audit import get_audit_stats, rotate_audit_logs


def main(log_dir: str, max_size_mb: float) -> None:
    for category, info in get_audit_stats(log_dir).items():
        print(f"{category}: {info['event_count']} events, {info['size_kb']} KB")
    for category, rotated in rotate_audit_logs(log_dir, max_size_mb=max_size_mb).items():
        print(f"{category}: rotated to {rotated}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("log_dir", nargs="?", default="logs/security")
    parser.add_argument("--max-size-mb", type=float, default=100)
    args = parser.parse_args()
    main(args.log_dir, args.max_size_mb)
