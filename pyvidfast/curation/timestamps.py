"""The timestamp checks ``ffmpeg -i P -f null -`` (FFmpeg 5.1) applies to decoded frames.

Note on the model (referred to from integrity.py). ``ffmpeg -f null`` does not only decode: every
decoded frame is encoded (video: ``wrapped_avframe``, audio: ``pcm_s16le``) and handed to the null
muxer, and libavformat's ``compute_muxer_pkt_fields`` logs at ERROR level

    Application provided invalid, non monotonically increasing dts to muxer in stream N: A >= B

whenever a packet's dts is not above the previous one of its stream. The null muxer ignores the
failure, so the dts it compares against is the last *accepted* one, and a previous dts of exactly 0
disables the check (``cur_dts && ...`` in mux.c). The dts the muxer sees:

- video: the decoder's best-effort timestamp (``guess_correct_pts``) shifted by ``-start_time`` of
  the file, rescaled to the encoder time base ``1 / av_guess_frame_rate(stream)`` (25 fps when
  unknown) with ffmpeg's ``adjust_frame_pts_to_encoder_tb`` rounding (vsync passthrough, because
  the null format is ``AVFMT_NOTIMESTAMPS``). Two frames of a variable-frame-rate clip that fall in
  the same 1/fps slot therefore collide: this is the error seen on real phone clips.
- audio: the frame pts (else the packet pts) shifted the same way, made sample-continuous by
  ``av_rescale_delta`` into ``1 / sample_rate``, which is also the encoder time base.

Note [AVI pts]
    AVI stores only decode order (dts = frame index). With B-frames FFmpeg 8's demuxer derives a
    pts where it differs from the dts; ffmpeg 5.1 leaves none, so its decoder falls back to dts
    (nothing printed) where FFmpeg 8's pts make flushed B-pyramid frames collide ("89 >= 89").
    ``demuxed_pts`` gives the 5.1 value for the decoder; other containers agree (for MPEG-TS Xvid
    see Note [mpeg4 flush pts] in ``pyvidfast/curation/mpeg4_quirks.py``). Details: docs/notes.md.
"""

from __future__ import annotations

from fractions import Fraction

NOPTS = None


def demuxed_pts(format_name: str, pts: int | None, dts: int | None) -> int | None:
    """The pts ffmpeg 5.1's demuxer gives a video packet that FFmpeg 8 gives ``pts``, ``dts``.

    They differ only for AVI streams with B-frames (Note [AVI pts]).
    """
    if format_name == "avi" and pts is not None and pts != dts:
        return None
    return pts


def rescale(value: int, src: Fraction, dst: Fraction) -> int:
    """``av_rescale_q`` (round to nearest, halves away from zero) with exact integers."""
    num = value * src.numerator * dst.denominator
    den = src.denominator * dst.numerator
    q, r = divmod(abs(num), den)
    if 2 * r >= den:
        q += 1
    return q if num >= 0 else -q


def _rescale_rnd(value: int, src: Fraction, dst: Fraction, up: bool) -> int:
    num = value * src.numerator * dst.denominator
    den = src.denominator * dst.numerator
    return -((-num) // den) if up else num // den


class CorrectPts:
    """libavcodec's ``guess_correct_pts``: frame pts unless pts look more faulty than dts."""

    def __init__(self) -> None:
        self.faulty_pts = self.faulty_dts = 0
        self.last_pts: int | None = None
        self.last_dts: int | None = None

    def __call__(self, pts: int | None, dts: int | None) -> int | None:
        if dts is not None:
            self.faulty_dts += self.last_dts is not None and dts <= self.last_dts
            self.last_dts = dts
        elif pts is not None:
            self.last_dts = pts
        if pts is not None:
            self.faulty_pts += self.last_pts is not None and pts <= self.last_pts
            self.last_pts = pts
        elif dts is not None:
            self.last_pts = dts
        if (self.faulty_pts <= self.faulty_dts or dts is None) and pts is not None:
            return pts
        return dts


class MuxerDts:
    """The null muxer's per-stream dts check; returns an error line or None per packet."""

    def __init__(self, stream_index: int) -> None:
        self.stream_index = stream_index
        self.cur_dts = 0

    def __call__(self, dts: int | None) -> str | None:
        if dts is None:
            return None
        if self.cur_dts != 0 and self.cur_dts >= dts:
            return (
                "Application provided invalid, non monotonically increasing dts to muxer in "
                f"stream {self.stream_index}: {self.cur_dts} >= {dts}"
            )
        self.cur_dts = dts
        return None


class VideoTimestamps:
    """Decoded video frame timestamps -> the dts the null muxer sees (see the module note)."""

    def __init__(self, out_index: int, time_base: Fraction, frame_rate: Fraction | None, offset):
        self.time_base = time_base
        self.offset = offset
        rate = frame_rate if frame_rate and frame_rate > 0 else Fraction(25)
        self.enc_tb = 1 / rate
        self.correct = CorrectPts()
        self.mux = MuxerDts(out_index)
        # ffmpeg 5.1 adjust_frame_pts_to_encoder_tb: rescale into enc_tb with extra_bits of
        # sub-tick precision; the factors are fixed per stream, so compute them once.
        den = self.enc_tb.denominator
        self.extra_bits = min(max(29 - (den.bit_length() - 1), 0), 16)
        fine = Fraction(self.enc_tb.numerator, den << self.extra_bits)
        self._fine = fine
        self._num = time_base.numerator * fine.denominator
        self._den = time_base.denominator * fine.numerator

    def _encoder_pts(self, pts: int) -> int:
        # rescale(pts, time_base, fine) inlined (this runs once per frame)
        q, r = divmod(abs(pts) * self._num, self._den)
        if 2 * r >= self._den:
            q += 1
        float_pts = (q if pts >= 0 else -q) / (1 << self.extra_bits)
        if float_pts:
            float_pts += (1.0 if float_pts > 0 else -1.0) / (1 << 17)
        return round(float_pts)  # llrint; the 2**-17 nudge keeps it off exact halves

    def frame(self, pts: int | None, dts: int | None) -> str | None:
        best = self.correct(pts, dts)
        if best is None:
            return None
        return self.mux(self._encoder_pts(best + self.offset))


class AudioTimestamps:
    """Decoded audio frame timestamps -> the dts the null muxer sees (see the module note)."""

    def __init__(self, out_index: int, time_base: Fraction, sample_rate: int, offset: int):
        self.time_base = time_base
        self.offset = offset
        self.fs_tb = Fraction(1, sample_rate) if sample_rate > 0 else None
        self.last: int | None = None
        self.prev_pkt_pts: int | None = None
        self.sync_opts = 0
        self.mux = MuxerDts(out_index)

    def _rescale_delta(self, ts: int, duration: int) -> int:
        # libavutil av_rescale_delta(in_tb, ts, fs_tb, duration, &last, fs_tb)
        in_tb, fs_tb = self.time_base, self.fs_tb
        if self.last is None or not duration or in_tb <= fs_tb:
            self.last = rescale(ts, in_tb, fs_tb) + duration
            return rescale(ts, in_tb, fs_tb)
        a = _rescale_rnd(2 * ts - 1, in_tb, fs_tb, up=False) >> 1
        b = (_rescale_rnd(2 * ts + 1, in_tb, fs_tb, up=True) + 1) >> 1
        if self.last < 2 * a - b or self.last > 2 * b - a:
            self.last = rescale(ts, in_tb, fs_tb) + duration
            return rescale(ts, in_tb, fs_tb)
        this = min(max(self.last, a), b)
        self.last = this + duration
        return this

    def frame(
        self, pts: int | None, pkt_pts: int | None, pkt_duration: int, samples: int
    ) -> str | None:
        if self.fs_tb is None:
            return None
        if pkt_duration and self.prev_pkt_pts is not None and pkt_pts is not None:
            if pkt_pts - self.prev_pkt_pts > pkt_duration:
                self.last = None
        self.prev_pkt_pts = pkt_pts
        ts = pts if pts is not None else pkt_pts
        if ts is None:
            out = self.sync_opts
        else:
            out = self._rescale_delta(ts + self.offset, samples)
        self.sync_opts = out + samples
        return self.mux(out)
