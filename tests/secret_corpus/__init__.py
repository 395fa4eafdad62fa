"""An outside corpus to measure redaction: secrets in public formats, placed as they leak.

Built from the providers' published token formats and from the public lists of what
secret scanners look for (GitHub's secret-scanning patterns, gitleaks' rules,
trufflehog's detectors), never from this project's own rules, so that it can tell
whether the rules cover what exists.

``formats`` joins the secret formats of ``tokens`` (self-identifying tokens), ``keyed``
(secrets that need their keyword), ``credentials`` (key blocks, signed tokens, files)
and ``passwords`` (connection strings, URLs, command lines), drawn by ``generate`` from
a seeded RNG; ``placements``: where a secret lands in an event; ``ordinary``: values
that must stay readable; ``measure``: plants them all through the public API and counts
what reaches the files.
"""
