"""The programs shown in the documentation, each run by ``tests/test_docs_examples.py``."""
