"""A holdout to measure redaction on values nobody here wrote or tuned the rules against.

``cases`` holds example secrets, context lines and ordinary values copied from the test
fixtures, rule examples and sample logs of other public projects, each with its source;
``bench/redaction_holdout.py`` plants them through the public API and counts what reaches
the files.
"""
