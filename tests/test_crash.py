"""kill -9 of a writing, erasing, merging server never loses an acknowledged write or erasure nor
corrupts the store or its matching state."""

from __future__ import annotations

import os

import pytest

from .crash import crash_rounds

pytestmark = pytest.mark.integration


def test_sigkill_while_writing_loses_nothing_acknowledged(tmp_path):
    rounds = crash_rounds(tmp_path / "store", int(os.environ.get("MATCHER_CRASH_ROUNDS", "5")))
    assert rounds[-1].acknowledged > 0
    for r in rounds:
        assert r.lost == 0
        assert r.integrity == "ok"
        assert r.vectors_consistent
        assert r.erasure_leftovers == 0
    assert rounds[-1].erased > 0 and rounds[-1].snapshots_written > 0
