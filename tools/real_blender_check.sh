#!/usr/bin/env bash
# The add-on in a real Blender *binary* with a window (the bpy module cannot draw UI): Debian trixie's
# Blender 4.3.2 in a debootstrap folder, on a virtual X screen. Needs root (debootstrap, chroot, mounts)
# and Debian's package registry; about 1.5 GB and 5 minutes the first time.
#
#   sudo bash tools/real_blender_check.sh [ROOTFS=/work/trixie] [OUT=out/real_blender]
#
# 1. installs the built zip with Blender's extension installer, runs Generate Grasp on Selection on the
#    mug and saves the README screenshot (docs/screenshots/make_panel_screenshot.py);
# 2. checks that Ctrl+Z after each JHOD operator restores the scene exactly (tools/undo_check.py);
# 3. runs `blender -b --python jhod_blender/batch.py` with both engines on the mug (model sampling);
# Results land in OUT (panel.png, batch_*/, log.txt). Debian's Blender has no SciPy and no
# OpenImageDenoise, like a stripped-down install: the add-on must cope with both.
set -euo pipefail
ROOTFS=${1:-/work/trixie}
OUT=$(realpath -m "${2:-out/real_blender}")
REPO=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT"

if [ ! -x "$ROOTFS/usr/bin/blender" ]; then
  command -v debootstrap >/dev/null || apt-get install -y debootstrap
  [ -d "$ROOTFS/usr" ] || debootstrap --variant=minbase trixie "$ROOTFS" http://deb.debian.org/debian
  cp /etc/resolv.conf "$ROOTFS/etc/"
  chroot "$ROOTFS" bash -c "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
    --no-install-recommends blender python3-numpy xvfb xdotool imagemagick libgl1-mesa-dri libegl1 libegl-mesa0 \
    fonts-dejavu-core"
fi
for fs in proc dev sys; do mountpoint -q "$ROOTFS/$fs" || mount --bind "/$fs" "$ROOTFS/$fs"; done

(cd "$REPO" && python build_addon.py >/dev/null)
rm -rf "$ROOTFS/root/repo" && mkdir -p "$ROOTFS/root/repo"
(cd "$REPO" && git ls-files -co --exclude-standard jhod_blender jhod_core tools docs/screenshots blender_manifest.toml \
   LICENSE data/objects/meshes/pb_named_mug.ply | tar -cf - -T - dist/*.zip) | tar -xf - -C "$ROOTFS/root/repo"
ZIP=$(cd "$ROOTFS/root/repo" && ls dist/*.zip | head -1)

chroot "$ROOTFS" bash -c "
set -e
cd /root/repo
blender --version | head -1
Xvfb :99 -screen 0 1600x1000x24 >/dev/null 2>&1 & XPID=\$!
sleep 2
rm -rf /tmp/jhod_user /tmp/out && mkdir -p /tmp/out
DISPLAY=:99 BLENDER_USER_RESOURCES=/tmp/jhod_user timeout 300 blender --factory-startup \
  --python docs/screenshots/make_panel_screenshot.py -- /root/repo/$ZIP \
  /root/repo/data/objects/meshes/pb_named_mug.ply /tmp/out/panel.png | grep '^JSON'
rm -rf /tmp/jhod_user
DISPLAY=:99 BLENDER_USER_RESOURCES=/tmp/jhod_user timeout 300 blender --factory-startup \
  --python tools/undo_check.py -- /root/repo/$ZIP /root/repo/data/objects/meshes/pb_named_mug.ply \
  | grep '^JSON' | tee /tmp/out/undo.jsonl
kill \$XPID
for engine in BLENDER_WORKBENCH CYCLES; do
  timeout 600 blender -b --factory-startup --python jhod_blender/batch.py -- \
    --objects data/objects/meshes/pb_named_mug.ply --num 2 --views 3 --resolution 256 --samples 8 \
    --engine \$engine --steps 20 --out /tmp/out/batch_\$engine --sheet /tmp/out/batch_\$engine/sheet.png \
    | grep -E '^done|^contact|Error|error' || true
done
" 2>&1 | tee "$OUT/log.txt"
cp -r "$ROOTFS/tmp/out/." "$OUT/"
echo "results in $OUT"
