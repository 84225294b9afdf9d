"""Exactness after a seek (issue 28): fresh readers' random and window reads, each done twice,
against one pass from frame 0."""

from __future__ import annotations

import random

import numpy as np

from pyvidfast.io.errors import VideoReadError
from pyvidfast.io.reader import VideoReader


def _window(n: int, rng: random.Random) -> list[int]:
    start = rng.randrange(max(1, n - 16))
    return list(range(start, min(n, start + 16)))


def exact_after_seeks(path: str, limit: int = 120) -> list[str]:
    """Differences between fresh readers' random and window reads (each done twice) and one
    pass from frame 0; an empty list when every byte agrees."""
    try:
        reader = VideoReader(path)
        n = min(reader.num_decodable, limit)
        if n == 0:
            return []
        rng = random.Random(path)
        asks = [sorted(rng.sample(range(n), min(8, n))), _window(n, rng)]
        top = max(max(a) for a in asks)
        full = reader.get_batch(list(range(top + 1))).numpy()
    except VideoReadError:
        return []  # broken files: tests/test_reader.py proves their errors
    problems = []
    for ask in asks:
        reads = [VideoReader(path).get_batch(ask).numpy() for _ in range(2)]
        if not np.array_equal(reads[0], reads[1]):
            problems.append(f"{ask}: two identical reads differ")
        differ = [i for j, i in enumerate(ask) if not np.array_equal(reads[0][j], full[i])]
        if differ:
            problems.append(f"frames {differ} differ from the pass from frame 0")
    return problems
