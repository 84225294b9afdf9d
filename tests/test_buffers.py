"""Batch memory (io/buffers.py): a dead batch's memory is written again by the next batch
(Note [reused pages]); a live batch's memory never is."""

from __future__ import annotations

import gc

import torch

from pyvidfast.io.buffers import BufferPool

MB = 1 << 20


def test_a_dead_batch_is_reused_and_a_live_one_is_not():
    pool = BufferPool(64 * MB)
    a, view_a, fresh = pool.batch((4, MB))
    assert fresh
    view_a[:] = 7
    b, view_b, fresh_b = pool.batch((4, MB))  # a is alive: new memory
    assert fresh_b and b.data_ptr() != a.data_ptr()
    view_b[:] = 9
    assert int(a.min()) == 7 == int(a.max())
    ptr = a.data_ptr()
    kept = a[1]  # a slice keeps the batch alive
    del a, view_a
    gc.collect()
    c, _, fresh_c = pool.batch((4, MB))
    assert fresh_c and c.data_ptr() != ptr
    assert int(kept.min()) == 7
    del kept, c
    gc.collect()
    d, _, fresh_d = pool.batch((2, MB))  # a smaller batch fits in a kept one
    assert not fresh_d and d.shape == (2, MB) and d.dtype == torch.uint8


def test_the_pool_keeps_at_most_its_limit():
    pool = BufferPool(10 * MB)
    batches = [pool.batch((4, MB))[0] for _ in range(3)]
    del batches
    gc.collect()
    assert sum(1 for _ in range(3) if pool.take(4 * MB) is not None) == 2  # 8 MB of 12 kept
    off = BufferPool(0)
    t, _, fresh = off.batch((4, MB))
    del t
    gc.collect()
    assert fresh and off.take(1) is None


def test_a_batch_moved_to_shared_memory_frees_its_pooled_memory():
    """DataLoader workers send tensors through shared memory: share_memory_() copies the batch
    out, and the pooled memory is given back."""
    pool = BufferPool(64 * MB)
    t, view, _ = pool.batch((2, MB))
    view[:] = 3
    del view
    t.share_memory_()
    gc.collect()
    assert t.is_shared() and int(t.max()) == 3
    assert pool.take(2 * MB) is not None


def test_reader_batches_in_a_loop_stay_correct(tmp_path):
    from media import frame_number, make_clip

    from pyvidfast.io.reader import VideoReader

    clip = make_clip(tmp_path / "c.mp4", 40, 24, size=(1280, 720))
    reader = VideoReader(str(clip))
    kept = reader.get_batch(list(range(0, 10)))
    for start in range(10, 40, 10):
        batch = reader.get_batch(list(range(start, start + 10)))
        assert [frame_number(f) for f in batch.numpy()] == list(range(start, start + 10))
        del batch
    assert [frame_number(f) for f in kept.numpy()] == list(range(10))
