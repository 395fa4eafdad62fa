"""The proof: sealing, checkpoints, keys and verification.

PURE+IO. ``integrity``, ``verification``, ``findings``, ``keymatch`` and
``keycheck`` are pure (hash chains, MACs, the checks over lines, telling another
key from an alteration, the rule for a strong key), and so are ``schedule``,
``forward`` and ``keyformat`` (forward-secure keys: the schedule of epochs, the
verification key and the host's sealing state, their JSON files); ``keys``,
``keydir``, ``keyfiles``, ``checkpoints`` and ``verify`` read and write files.
Used by the writer to seal, by ``asgi-audit verify`` to check and by
``asgi-audit keys`` to make keys.
"""
