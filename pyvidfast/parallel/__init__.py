"""Generic machinery that ``curation`` and ``opensora`` both use; nothing here knows about video.

- ``pool``: ``map_with_timeout``, a local process pool with a per-item timeout whose workers die
  with their parent (Note [worker lifetime]).
- ``ray_loop``: ``map_on_ray``, the same contract over a Ray cluster.
- ``options``: ``EngineOptions`` and the ``--engine/--address/--workers/--threads/--timeout``
  flags every command that fans out shares.
- ``table``: CSV/Parquet in and out the Open-Sora way.
- ``outputs``: output paths checked before any work, written atomically (temporary file + rename).
- ``interrupt``: SIGTERM/Ctrl-C become one line and exit code 143/130.
"""
