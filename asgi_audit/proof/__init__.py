"""The proof: sealing, checkpoints, keys and verification.

PURE+IO. ``integrity`` and ``verification`` are pure (hash chains, MACs, the
checks over lines); ``keys``, ``checkpoints`` and ``verify`` read and write
files. Used by the writer to seal and by ``asgi-audit verify`` to check.
"""
