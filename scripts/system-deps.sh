#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (chromium for the browser tests, a Java
# runtime for the Spark engine) when they are missing. Needs root or sudo; otherwise it says
# what to install and stops.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
  echo "storemind tests need these Debian packages: ${need[*]} (apt-get install ${need[*]})" >&2
  exit 1
fi
echo "installing Debian packages: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
