"""``pyvidfast check --device cuda``: the integrity check with every video frame decoded on NVDEC.

Unverified on a GPU as rewritten: CPU-tested with a stand-in decoder (tests/test_gpu_check.py);
benchmarks/gpu_verify.sh is the device check.

The verdict is ``integrity.check_file``'s (same ``CheckResult``, columns, journal), with the
video decoded on NVDEC. The modules, in the order a file meets them:

- run.py: the engines. A pool of checker processes per GPU (two per NVDEC engine), one Ray
  worker per GPU with ``--engine ray``; tasks that want Open-Sora's info row go to the CPU engine.
- worker.py: one file at a time per process, so an NVDEC error message belongs to the file being
  decoded; files NVDEC cannot take are checked on the CPU by the same process.
  Which files NVDEC takes (codec, bit depth, chroma, minimum/maximum size) is
  ``io.nvdec.gpu_decision`` on the pool's decoder caps (``worker.route``).
- demux.py: one PyAV demux per file feeds the container/audio checks and NVDEC, on a thread;
  nal.py: FFmpeg's NAL framing check on those packets.
- shown.py: frames each packet shows (hidden VP9/AV1 frames are not output, as in ffmpeg).
- session.py: the packets into a decoder of this process's ``io.nvdec.DecoderPool``, kept
  across files of the same format.
- errwatch.py: the decode-status errors NVDEC prints per picture.

Known gap: the null muxer's non-monotonic dts check (``error_kind="timestamps"``) needs the
decoder's timestamps and is not reproduced for NVDEC-decoded video; it is for audio.
"""

from pyvidfast.curation.gpu.run import check_paths_cuda, default_workers, run_cuda

__all__ = ["check_paths_cuda", "default_workers", "run_cuda"]
