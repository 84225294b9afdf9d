"""Readers that a forked child (a DataLoader worker) inherits from its parent.

Note [fork]
    An FFmpeg decoder with frame threads, or a filter graph with its own, cannot be freed in a
    forked child: its threads were not copied, and freeing it waits on them for ever (measured:
    a reader read once, then ``os.fork()``, then ``del reader`` in the child hangs). The child
    drops its copies without freeing them and reopens the file on its next read.
"""

from __future__ import annotations

import os
import weakref
from typing import Any, Protocol

__all__ = ["track"]


class _Forkable(Protocol):
    def abandon_native(self) -> list[Any]: ...


_live: weakref.WeakSet[_Forkable] = weakref.WeakSet()
_inherited: list[Any] = []  # a child's copies of its parent's FFmpeg objects: never freed


def track(reader: _Forkable) -> None:
    """Have ``reader`` drop its FFmpeg objects in a forked child (Note [fork])."""
    _live.add(reader)


def _after_fork_in_child() -> None:
    for reader in list(_live):
        _inherited.extend(reader.abandon_native())


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
