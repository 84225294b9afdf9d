"""Bitstream and box parsers: header fields read without a decoder, shared by every reader.

``boxes`` ISO-BMFF boxes and the top-level moov; ``bits`` the MSB-first bit reader (with
Exp-Golomb codes); ``nal`` H.264/HEVC NAL units, length sizes and the x264 version; ``h264_sps``
the SPS fields the counts need; ``vpx`` and ``av1`` which frames a VP8/VP9 packet or an AV1
temporal unit shows; ``mpeg4`` MPEG-4 Part 2 VOL/VOP headers.
"""
