"""NVDEC decoding through PyNvVideoCodec, one concern per module, in data-flow order:

``library``   loading PyNvVideoCodec and the driver libraries; ``NvdecUnavailableError``
``formats``   what a stream is (codec, chroma, bit depth, size, colour tags)
``caps``      GPU or CPU from the decoder caps, before any decoder (Note [measured caps])
``pool``      decoders per NVDEC engine, reused per format, dropped after an error
``packets``   our own packets (PyAV demux, Annex B), sought from our index
``numbering`` frame numbers through the CPU index and ``dts0 - pts0`` (Note [stamps])
``decode``    feeding runs of packets, numbering and copying the frames out
``surfaces``  NV12/P016 buffers as torch views
``hardware``  the real decoder (``CreateDecoder`` + ``Decode``)
``standin``   a CPU decoder with NVDEC's measured behaviour, for tests and CPU machines
``reader``    ``NvdecVideoReader``

Nothing here imports PyNvVideoCodec until a GPU reader is made.
"""

from pyvidfast.io.nvdec.caps import (
    MEASURED_CAPS,
    NO_AV1_CAPABILITIES,
    CodecLimits,
    Decision,
    engine_count,
    engines_for_name,
    gpu_decision,
)
from pyvidfast.io.nvdec.library import (
    DRIVER_LIBRARIES,
    NvdecUnavailableError,
    missing_driver_libraries,
    no_cuda_device,
    nvdec_available,
    nvdec_module,
    require_nvdec,
)
from pyvidfast.io.nvdec.numbering import FrameNumbering, NumberingError, plan_indices
from pyvidfast.io.nvdec.pool import DecoderKey, DecoderPool, decoder_pool
from pyvidfast.io.nvdec.reader import NvdecVideoReader
from pyvidfast.io.nvdec.surfaces import split_packed, split_planes
from pyvidfast.io.stream_format import StreamFormat, stream_color, stream_format_of

__all__ = [
    "DRIVER_LIBRARIES",
    "MEASURED_CAPS",
    "NO_AV1_CAPABILITIES",
    "CodecLimits",
    "Decision",
    "DecoderKey",
    "DecoderPool",
    "FrameNumbering",
    "NumberingError",
    "NvdecUnavailableError",
    "NvdecVideoReader",
    "StreamFormat",
    "decoder_pool",
    "engine_count",
    "engines_for_name",
    "gpu_decision",
    "missing_driver_libraries",
    "no_cuda_device",
    "nvdec_available",
    "nvdec_module",
    "plan_indices",
    "require_nvdec",
    "split_packed",
    "split_planes",
    "stream_color",
    "stream_format_of",
]
