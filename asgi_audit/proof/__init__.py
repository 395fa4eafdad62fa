"""The proof: sealing, checkpoints, keys and verification.

PURE+IO. ``integrity``, ``verification``, ``findings``, ``keymatch`` and
``keycheck`` are pure (hash chains, MACs, the checks over lines, telling another
key from an alteration, the rule for a strong key), and so are ``schedule``,
``forward`` and ``keyformat`` (forward-secure keys: the schedule of epochs, the
verification key and the host's sealing state, their JSON files); ``keys``,
``keyfiles``, ``checkpoints`` and ``verify`` read and write files. Used by the
writer to seal and by ``asgi-audit verify`` and ``asgi-audit keys`` to check and
to make keys.
"""
