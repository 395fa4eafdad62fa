"""The proof: sealing, checkpoints, keys and verification.

PURE+IO. ``integrity``, ``verification``, ``findings``, ``keymatch`` and
``keycheck`` are pure (hash chains, MACs, the checks over lines, telling another
key from an alteration, the rule for a strong key); ``keys``, ``checkpoints`` and
``verify`` read and write files. Used by the writer to seal and by
``asgi-audit verify`` to check.
"""
