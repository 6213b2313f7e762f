#!/bin/sh
# Install what `make test` needs from the system on Debian/Ubuntu: the services the tests
# start on free ports (Mosquitto, PostgreSQL, InfluxDB 1.x, NATS, Chromium and its driver),
# Node.js/npm (anvil and solcjs come from npm), make and python3-venv.
# Quick when all is there: nothing is fetched, apt is not touched.
#   deploy/dev/install-test-services.sh          install what is missing (root or sudo)
#   deploy/dev/install-test-services.sh --check  list what is missing; exit 1 if any
# `make demo` needs none of the services: it falls back to an in-process broker.
set -eu

SCRIPT="deploy/dev/install-test-services.sh"
missing=""

have() {
    # Some of these live in sbin or a versioned directory, off an ordinary user's PATH.
    for candidate in "$@"; do
        if command -v "$candidate" >/dev/null 2>&1 || [ -x "$candidate" ]; then
            return 0
        fi
    done
    return 1
}

need() {
    missing="$missing $1"
}

have mosquitto /usr/sbin/mosquitto || need mosquitto
# shellcheck disable=SC2046  # the glob expands to each installed version's initdb
have initdb $(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null) || need postgresql
have influxd /usr/bin/influxd || need influxdb
have chromium /usr/bin/chromium || need chromium
have chromedriver /usr/bin/chromedriver || need chromium-driver
have nats-server /usr/sbin/nats-server /usr/bin/nats-server || need nats-server
if ! have node; then
    need nodejs
    have npm || need npm
elif ! have npm; then
    need npm
fi
have make || need make
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || need python3-venv

if [ -z "$missing" ]; then
    exit 0
fi
echo "test services missing:$missing" >&2
if [ "${1:-}" = "--check" ]; then
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "no apt-get here: install the packages above with the system's package manager" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
    as_root="sudo"
else
    echo "run once, as root: sudo $SCRIPT" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update -qq
# shellcheck disable=SC2086  # one word per package
$as_root apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "installed:$missing" >&2
