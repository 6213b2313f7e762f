#!/bin/sh
# Install the fieldproof agent on a freshly flashed JetPack 6 device (Ubuntu 22.04).
#   sudo ./deploy/edge/install.sh            from a checkout of the repository
# Options (environment):
#   FIELDPROOF_ORT=gpu|cpu      ONNX Runtime build (gpu: NVIDIA's Jetson index)
#   ORT_INDEX_URL=...           that index (default: JetPack 6, CUDA 12.6)
#   PYTHON=python3.11           interpreter (fieldproof needs Python >= 3.11)
set -eu

SRC="$(cd "$(dirname "$0")/../.." && pwd)"
PREFIX="${PREFIX:-/opt/fieldproof}"
PYTHON="${PYTHON:-python3.11}"
FIELDPROOF_ORT="${FIELDPROOF_ORT:-gpu}"
ORT_INDEX_URL="${ORT_INDEX_URL:-https://pypi.jetson-ai-lab.dev/jp6/cu126}"

if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run as root (sudo)" >&2
    exit 1
fi

echo "== packages"
PACKAGES="$PYTHON $PYTHON-venv libglib2.0-0 ca-certificates i2c-tools"
MISSING=""
for package in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
        || MISSING="$MISSING $package"
done
# A re-run on an installed device touches neither the network nor apt's lists.
if [ -n "$MISSING" ]; then
    apt-get update
    # shellcheck disable=SC2086  # one word per package
    apt-get install -y --no-install-recommends $MISSING
fi

echo "== service user"
for group in video i2c dialout; do
    getent group "$group" >/dev/null || groupadd --system "$group"
done
if ! id fieldproof >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/fieldproof --shell /usr/sbin/nologin \
        --groups video,i2c,dialout fieldproof
fi

echo "== application in $PREFIX"
"$PYTHON" -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install --quiet --upgrade pip
# The edge role only: no aggregator, API, in-process chain or broker on a device.
"$PREFIX/venv/bin/pip" install "$SRC[edge]"
if [ "$FIELDPROOF_ORT" = "gpu" ]; then
    # Only NVIDIA's index builds onnxruntime-gpu for Jetson; everything else above came
    # from PyPI and stays as it is.
    "$PREFIX/venv/bin/pip" install --extra-index-url "$ORT_INDEX_URL" "$SRC[edge,gpu]"
else
    "$PREFIX/venv/bin/pip" install "$SRC[edge,cpu]"
fi
"$PREFIX/venv/bin/fieldproof" agent --help >/dev/null
install -d "$PREFIX/bin" "$PREFIX/deploy"
install -m 0755 "$SRC/deploy/edge/firstboot/fieldproof-firstboot" "$PREFIX/bin/"
cp -r "$SRC/deploy/edge" "$PREFIX/deploy/"

echo "== directories"
install -d -m 0750 -o root -g fieldproof /etc/fieldproof
install -d -m 0700 -o root -g root /etc/fieldproof/secrets
install -d -m 0750 -o fieldproof -g fieldproof /var/lib/fieldproof /var/cache/fieldproof

echo "== systemd units"
install -m 0644 "$SRC/deploy/edge/systemd/fieldproof-agent.service" /etc/systemd/system/
install -m 0644 "$SRC/deploy/edge/systemd/fieldproof-firstboot.service" /etc/systemd/system/
systemctl daemon-reload
systemctl enable fieldproof-firstboot.service fieldproof-agent.service

cat <<MSG

Installed. Next:
  * put a device bundle (fieldproof fleet provision, OUT/devices/<id>/) in /boot/fieldproof/
    or on a USB stick labelled FPBUNDLE and reboot; the first-boot unit installs and deletes it;
  * or create an identity here: sudo -u fieldproof $PREFIX/venv/bin/fieldproof device init --dir /var/lib/fieldproof
    and move agent.yaml to /etc/fieldproof/;
  * check the config: $PREFIX/venv/bin/fieldproof agent check-config /etc/fieldproof/agent.yaml
  * watch it: journalctl -u fieldproof-agent -f ; curl -s 127.0.0.1:9108/metrics
MSG
