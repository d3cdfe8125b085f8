#!/bin/sh
# install-chromium.sh installs the Debian package chromium, which the
# console's real-browser test (cmd/tagihan-relay/console_browser_test.go)
# drives, when /usr/bin/chromium is missing. .ci/run calls it before the
# tests; it does nothing when Chromium is already there.
set -eu

if [ -x /usr/bin/chromium ]; then
	exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y chromium
