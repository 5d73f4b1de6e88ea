"""Features relative to the repository's own history, so that they compare across repositories.

A raw count (files changed, the author's file changes) means one thing in a repository of a
hundred commits and another in one of a hundred thousand; its rank among the repository's recent
changes, or its share of the repository's history, reads the same in both.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # history.py imports this module
    from gate.features.history import CommitRecord

RECENT_COMMITS = 500  # the window a change's size is ranked in

RELATIVE_FEATURES = ("nf_recent_rank", "exp_share", "ndev_share")


class RepositoryActivity:
    """Every indexed commit's time and files changed, and each author's first commit time.

    Built from the index's records in the order they were added and brought up to date on every
    use; sorted by time lazily (equal times keep their insertion order).
    """

    def __init__(self) -> None:
        self.indexed = 0  # how many of the index's records are counted here
        self._pending: list[tuple[int, int]] = []  # (time, files) not yet merged in
        self._times = np.empty(0, dtype=np.int64)
        self._files = np.empty(0, dtype=np.int64)
        self._touches = np.zeros(1, dtype=np.int64)  # prefix sums of _files
        self._first_by_author: dict[str, int] = {}
        self._firsts: list[int] | None = None

    def catch_up(self, added: Sequence[CommitRecord]) -> None:
        if self.indexed == len(added):
            return
        for record in added[self.indexed :]:
            self._pending.append((record.time, len(record.paths)))
            first = self._first_by_author.get(record.author)
            if first is None or record.time < first:
                self._first_by_author[record.author] = record.time
                self._firsts = None
        self.indexed = len(added)

    def _sorted(self) -> None:
        if not self._pending:
            return
        times = np.concatenate([self._times, [t for t, _ in self._pending]]).astype(np.int64)
        files = np.concatenate([self._files, [f for _, f in self._pending]]).astype(np.int64)
        order = np.argsort(times, kind="stable")
        self._times, self._files = times[order], files[order]
        self._touches = np.concatenate([[0], np.cumsum(self._files)])
        self._pending = []

    def features(
        self, now: int, files: int, author_touches: int, ndev: int
    ) -> dict[str, float | None]:
        """The relative features of a change of `files` files at `now` whose author made
        `author_touches` earlier file changes and whose files `ndev` developers changed."""
        self._sorted()
        earlier = int(np.searchsorted(self._times, now, side="left"))
        recent = self._files[max(earlier - RECENT_COMMITS, 0) : earlier]
        touches = int(self._touches[earlier])
        if self._firsts is None:
            self._firsts = sorted(self._first_by_author.values())
        developers = bisect.bisect_left(self._firsts, now)
        return {
            "nf_recent_rank": _rank(recent, files) if len(recent) else None,
            "exp_share": author_touches / touches if touches else None,
            # ndev counts the change's author; so does the denominator
            "ndev_share": ndev / (developers + 1),
        }


def _rank(values: np.ndarray, value: float) -> float:
    """The share of `values` below `value`, counting ties half (a mid-rank percentile)."""
    below = int(np.count_nonzero(values < value))
    ties = int(np.count_nonzero(values == value))
    return (below + ties / 2) / len(values)
