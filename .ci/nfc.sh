#!/usr/bin/env bash
# NFC: installs what building libnfc (vendored by nfc1-sys) needs, then runs the hardware
# crate's tests with the `nfc` feature, the PN532-on-a-pty integration test included.
#
# Time, measured on a 2-core Debian 12 machine shared with other builds, cargo -j 1:
# installing the packages took 12 s (plus apt-get update); with the packages present, a
# cold run (empty target directory) took 240 s: 234 s to build, ~6 s of tests (the PN532
# pty test ~2 s). A warm run takes ~6 s. Budget 6 minutes.
#
# Why these packages: nfc1-sys builds libnfc 1.8.0 and libusb from source with cmake and
# generates its bindings with bindgen (libclang); it links libudev when pkg-config finds it.
# Debian's own libnfc-dev is not used: the vendored build reads no /etc/nfc/libnfc.conf and
# no LIBNFC_* variables, so a kiosk's reader is exactly what its configuration names.
# Needs root (or sudo) for apt-get; runs unattended.
set -euo pipefail
cd "$(dirname "$0")/.."

source .ci/packages.sh
need_packages cmake libclang-dev libudev-dev pkg-config

cargo test -p mtime-hardware --features nfc --locked
