#!/usr/bin/env bash
# The kiosk as built for the Raspberry Pi: Slint straight to the screen through Linux KMS
# (no X server) and NFC readers through libnfc, `--features pi`. Built natively here (x86_64)
# with the same features and system libraries; the cross build to aarch64 is described in
# README.md. Installs what the build links: libudev, libinput and xkbcommon for the KMS
# backend's input, cmake and libclang for the vendored libnfc.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/packages.sh
need_packages cmake libclang-dev libudev-dev pkg-config libinput-dev libxkbcommon-dev

cargo build -p mtime-kiosk --features pi --locked
./target/debug/mtime-kiosk --version
