"""``bench/paired.py`` runs end to end: a worker per tree, batches in turn, a ratio."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench import paired


def test_the_working_tree_against_head_gives_a_ratio_near_one() -> None:
    result = paired.compare("HEAD", pairs=4, calls=20)
    assert result["before_us"] > 0 and result["after_us"] > 0
    # tiny batches on a busy machine: only a ratio far from 1 means the tool is broken
    assert 0.5 < result["ratio"] < 2.0
    low, high = result["ratio_95"]
    assert low <= result["ratio"] <= high
    worktrees = subprocess.run(
        ["git", "worktree", "list"], cwd=Path(paired.ROOT), capture_output=True, text=True
    ).stdout
    assert "before" not in worktrees, "the temporary worktree was left behind"
