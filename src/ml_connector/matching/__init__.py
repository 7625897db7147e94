"""Matching records that already exist on both sides (issue 11): normalise, block, score, propose.

:mod:`.normalise` holds the pure rules, :mod:`.engine` the index and scorer, :mod:`.read` turns
each system's records into compact keys, :mod:`.run` streams both sides through the clients and
stores proposals, and :mod:`.review` writes and reads the CSV a person edits.
"""
