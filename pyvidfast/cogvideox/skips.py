"""What ``VideoDataset`` does with samples it cannot use: log them without flooding the log, and
stop with an error when no shard can give a sample (instead of resampling forever).

The reference prints one line per skipped sample and, with its endless shard resampling, loops
forever when every clip is skipped (e.g. all shorter than ``num_frames / fps``): 32k lines in 20 s
and no first item. Here the first ``first`` skips are logged one by one, then one summary line per
``every`` skips; and once every distinct shard has been read to its end, and every sample read,
skipped, since the last item, ``NoUsableSampleError`` says why with the skip counts.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

__all__ = ["EmptyPassWatch", "NoUsableSampleError", "SkipLog"]


class NoUsableSampleError(RuntimeError):
    """A full pass over every shard gave no sample: all were skipped (the message says why)."""


class SkipLog:
    """Counts skipped samples by kind; logs the first ``first`` of them, then a summary line
    every ``every`` skips."""

    def __init__(self, logger: logging.Logger, first: int = 20, every: int = 1000):
        self.logger = logger
        self.first = first
        self.every = every
        self.counts: Counter[str] = Counter()
        self.total = 0

    def skipped(self, where: str, kind: str, reason: str) -> None:
        self.total += 1
        self.counts[kind] += 1
        if self.total <= self.first:
            self.logger.warning("skipping %s: %s", where, reason)
            if self.total == self.first:
                self.logger.warning("further skips are summarised every %d samples", self.every)
        elif self.total % self.every == 0:
            self.logger.warning("skipped %d samples so far (%s)", self.total, self.summary())

    def summary(self) -> str:
        return ", ".join(f"{kind}: {n}" for kind, n in self.counts.most_common())


class EmptyPassWatch:
    """Tells when every distinct shard has been read through and every distinct sample read
    since the last item has been skipped at least once: a full pass that gave nothing.

    Samples are told apart by (shard, key), so a sample read but still waiting in the shuffle
    buffer keeps the pass open while its copies read again later do not; ``produced`` (an item
    came out) starts over, and a shard counts as read through only when its whole read began
    after that. Only samples since the last item are remembered (as hashes).
    """

    def __init__(self, urls: Iterable[str]):
        self.urls = frozenset(urls)
        self.generation = 0
        self.produced()

    def produced(self) -> None:
        self.generation += 1
        self.done: set[str] = set()
        self.seen: set[int] = set()
        self.skips: set[int] = set()

    def read(self, url: str, key: str) -> None:
        self.seen.add(hash((url, key)))

    def shard_done(self, url: str, generation: int) -> None:
        """``url`` was read to its end; ``generation`` is ``self.generation`` when it began."""
        if generation == self.generation:
            self.done.add(url)

    def skipped(self, url: str, key: str) -> bool:
        """Record a skip; True when this completes a pass with no item."""
        sample = hash((url, key))
        if sample in self.seen:  # not a sample read before the last item
            self.skips.add(sample)
        return self.empty_pass()

    def empty_pass(self) -> bool:
        return len(self.skips) >= len(self.seen) and self.done >= self.urls
