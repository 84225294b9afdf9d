#!/usr/bin/env bash
# Makes x264_core142_lossless444.mp4: lossless H.264 High 4:4:4 from x264 core 142 as built
# before its commit af8e768e "Disable i8x8 in lossless" (2014-07-19), the class of file FFmpeg
# decodes with its x264_build < 151 workaround (Note [x264 build] in pyvidfast/io/bitstream/nal.py).
# Needs a clone of x264 (https://code.videolan.org/videolan/x264.git), gcc and ffmpeg.
#   bash tests/data/make_x264_core142.sh /path/to/x264-clone
set -euo pipefail
repo=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git -C "$repo" archive af8e768e^ | tar -x -C "$work"
(cd "$work" && ./configure --disable-asm --disable-opencl --disable-lavf --disable-ffms \
  --disable-gpac --disable-lsmash --disable-swscale >/dev/null && make -j2 x264 >/dev/null 2>&1)
ffmpeg -v error -f lavfi -i testsrc2=size=160x120:rate=24 -frames:v 48 -pix_fmt yuv444p \
  -y "$work/src.y4m"
"$work/x264" --quiet --qp 0 --output-csp i444 --keyint 12 --min-keyint 12 \
  -o "$work/clip.264" "$work/src.y4m"
ffmpeg -v error -r 24 -i "$work/clip.264" -c copy -y "$here/x264_core142_lossless444.mp4"
