"""The outcome of a vote, as etcd's ``quorum/quorum.go`` ``VoteResult``."""

from __future__ import annotations

import enum


class VoteResult(enum.Enum):
    """Where a vote stands: undecided, lost or won."""

    VOTE_PENDING = 1  # some voters have not answered and could still tip it
    VOTE_LOST = 2  # the "no" votes (and silence) can no longer reach a majority
    VOTE_WON = 3  # a majority said yes
