#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what swasfs needs to build, test and demo on Debian 12, as root.
# Only the packages that are missing are installed, so a second run is quick.
set -euo pipefail

# clang and libclang-rt-dev (libFuzzer and the sanitizer runtimes of the default clang, on
# Debian 12 libclang-rt-14-dev) build the fuzzing harnesses of tests/fuzz.
packages=(meson ninja-build pkg-config gcc libfuse3-dev fuse3 libcurl4-openssl-dev libssl-dev libcjson-dev
          python3 python3-pytest openssl jq rsync valgrind clang-format procps nodejs npm ca-certificates
          clang libclang-rt-dev)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The machine may carry its own node and npm; Debian's are only needed without them.
if command -v node >/dev/null && command -v npm >/dev/null; then
	missing=("${missing[@]/nodejs}")
	missing=("${missing[@]/npm}")
fi
read -ra missing <<<"${missing[*]}"
if ((${#missing[@]})); then
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The official SDK, which judges the emulator (tests/test_emulator.py).
top=$(cd "$(dirname "$0")/.." && pwd)
if [ -f "$top/tests/sdk/package.json" ] && [ ! -d "$top/tests/sdk/node_modules/@alicloud/swas-open20200601" ]; then
	(cd "$top/tests/sdk" && npm install --no-audit --no-fund --loglevel=error)
fi
