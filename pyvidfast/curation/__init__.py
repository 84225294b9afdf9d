"""Curation: FFmpeg-exact integrity checking and the one-pass Open-Sora ``prepare`` pipeline.

``check_files(paths)`` gives, per file, the verdict of ``ffmpeg -v error -i P -f null -``
without running ffmpeg; ``prepare(table)`` does Open-Sora's info, empty-caption, size and
integrity steps in one pass; both run on a local process pool or a Ray cluster and resume from a
journal after a kill.
"""

from pyvidfast.curation.check import check_files, err_text
from pyvidfast.curation.integrity import KINDS, check_file
from pyvidfast.curation.prepare import PrepareResult, prepare
from pyvidfast.curation.sample_data import make_sample_dataset
from pyvidfast.curation.sources import import_table

__all__ = [
    "KINDS",
    "PrepareResult",
    "check_file",
    "check_files",
    "err_text",
    "import_table",
    "make_sample_dataset",
    "prepare",
]
