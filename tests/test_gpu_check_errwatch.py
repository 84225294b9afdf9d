"""pyvidfast.curation.gpu.errwatch: counting the decode-status errors NVDEC prints per picture."""

from __future__ import annotations

import ctypes
import os
import threading

from pyvidfast.curation.gpu.errwatch import DecodeErrorWatch


def _c_printf(text: bytes) -> None:
    """Print through C stdio, as NvDecoder does (buffered until fflush when not a terminal)."""
    ctypes.CDLL(None).printf(b"%s", text)


def test_error_watch_counts_status_lines_and_passes_the_rest(capfd):
    with DecodeErrorWatch() as watch:
        assert watch.sync() == 0
        t = threading.Thread(target=_c_printf, args=(b"Decode Error occurred for picture 7\n",))
        t.start()
        t.join()
        print("hello from python")
        _c_printf(b"Decode Error occurred for picture 8\nunrelated line\n")
        assert watch.sync() == 2
    out = capfd.readouterr().out
    assert "hello from python" in out and "unrelated line" in out
    assert "Decode Error occurred for picture 7" in out  # passed through, not swallowed
    assert "pyvidfast-sync" not in out


def test_error_watch_forwards_partial_lines_at_once(capfd):
    with DecodeErrorWatch() as watch:
        os.write(2, b"\rprogress 10%")
        watch.sync()
        os.write(2, b"\rprogress 20%")
        _c_printf(b"Decode Error occurred")
        watch.sync()
        _c_printf(b" for picture 1\n")
        assert watch.sync() == 1  # a line split across writes still counts once
    captured = capfd.readouterr()
    assert captured.err == "\rprogress 10%\rprogress 20%"
    assert captured.out == "Decode Error occurred for picture 1\n"
