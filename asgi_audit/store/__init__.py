"""The store: the stream, the writer and the files.

IO. The bounded stream between callers and the writer, the writer task and its
thread, append files with locks and permissions, rotation and retention, crash
recovery, and the readers and followers that the CLI and the sinks use. Imports
``record`` and ``proof``; the API and adapters sit above it.
"""
