#!/bin/sh
# Build PJSIP and its pjsua2 Python binding from source, for a machine without the
# pjsua2-python wheel (a Raspberry Pi: aarch64/armv7, or a CPython newer than 3.12), and
# install the binding into the station's virtual environment.
#
#   sudo scripts/build-pjsua2.sh [VENV]        (default VENV: .venv; about 20 min on a Pi 4)
#
# What it does:
#   1. installs the Debian build dependencies (as root);
#   2. fetches PJSIP 2.15.1 (the version of the x86_64 wheel) into a build folder;
#   3. configures it without sound-card, video and SSL bits the station does not use (the
#      station's audio goes through its own frames, pjsua2 only clocks a null device),
#      with -fPIC so the SWIG binding can link it;
#   4. builds the SWIG binding with the venv's Python and installs it there.
# Check afterwards:  VENV/bin/python -c "import pjsua2; print(pjsua2.Endpoint)"
set -eu

VENV="${1:-.venv}"
VERSION="${PJSIP_VERSION:-2.15.1}"
BUILD="${PJSIP_BUILD_DIR:-/usr/local/src/pjproject-$VERSION}"
PYTHON="$(cd "$VENV" && pwd)/bin/python"
[ -x "$PYTHON" ] || { echo "build-pjsua2: no $PYTHON (run make setup first)" >&2; exit 1; }

if [ "$(id -u)" = "0" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential swig python3-dev libssl-dev uuid-dev git ca-certificates
else
    echo "build-pjsua2: not root; assuming build-essential swig python3-dev uuid-dev git" >&2
fi

if [ ! -d "$BUILD" ]; then
    git clone --depth 1 --branch "$VERSION" https://github.com/pjsip/pjproject "$BUILD"
fi
cd "$BUILD"
cat > pjlib/include/pj/config_site.h <<'SITE'
#define PJMEDIA_HAS_VIDEO 0
#define PJMEDIA_AUDIO_DEV_HAS_PORTAUDIO 0
#define PJMEDIA_AUDIO_DEV_HAS_ALSA 0
#define PJSUA_MAX_CALLS 8
SITE
CFLAGS="-fPIC -O2" ./configure --disable-video --disable-sound --disable-libyuv \
    --disable-libwebrtc --disable-opencore-amr --disable-v4l2 --disable-ffmpeg \
    --disable-sdl --disable-openh264 --disable-bcg729 --disable-silk
make dep
make -j"$(nproc)"
cd pjsip-apps/src/swig/python
make PYTHON_EXE="$PYTHON"
"$PYTHON" -m pip install .
"$PYTHON" -c "import pjsua2; e = pjsua2.Endpoint(); e.libCreate(); print('pjsua2', e.libVersion().full); e.libDestroy()"
