#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The demo: installs what it needs, builds swasfs, starts the SWAS emulator
# with its sample data, mounts it, shows a short tour, and unmounts.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash contrib/install-deps.sh
[ -d build ] || meson setup build >/dev/null
meson compile -C build >/dev/null

work=$(mktemp -d /tmp/swasfs-demo.XXXXXX)
mnt="$work/mnt"
mkdir -p "$mnt"
# A throw-away key pair, shared with the emulator through the environment only.
export ALIBABA_CLOUD_ACCESS_KEY_ID=demo-key
export ALIBABA_CLOUD_ACCESS_KEY_SECRET="demo-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
export SWAS_EMULATOR_ACCESS_KEY_SECRET="$ALIBABA_CLOUD_ACCESS_KEY_SECRET"

emu_pid=
cleanup() {
	mountpoint -q "$mnt" && fusermount3 -u "$mnt"
	[ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

contrib/swas-emulator/swas-emulator --listen 127.0.0.1:0 --access-key-id demo-key --sample --quiet \
	>"$work/emulator.out" 2>"$work/emulator.err" &
emu_pid=$!
for _ in $(seq 100); do
	grep -q '^listening on ' "$work/emulator.out" 2>/dev/null && break
	sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$work/emulator.out")
[ -n "$url" ] || { cat "$work/emulator.err"; exit 1; }

build/swasfs -o "endpoint=$url,home_region=cn-hangzhou" "$mnt"

show() { printf '\n\033[1m$ %s\033[0m\n' "$*"; (cd "$mnt" && eval "$@"); }
echo "swasfs: the SWAS emulator at $url is mounted on $mnt"
show ls
# The first instance with a finished invocation, for the tour.
for d in "$mnt"/*/*/Finished/*/; do inv_dir=${d#"$mnt/"}; break; done
inv_dir=${inv_dir%/}
region=${inv_dir%%/*}
instance=$(echo "$inv_dir" | cut -d/ -f2)
show ls "$region"
show ls -l "$region/$instance"
show ls -l "$inv_dir"
show cat "$inv_dir/command"
show cat "$inv_dir/output"
show "jq '{InvokeId, CommandName, CommandType, InvocationStatus}' $inv_dir/metadata.json"
show "grep -rl --include=command -e apt -e systemctl . | head -5"
show "find . -path '*/Failed/*' -name result.json | head -3 | xargs jq -c '{ExitCode, ErrorCode}'"
show ls -l "$region/.by-name"
show "jq -c '{InstanceName, Status}' $region/.by-name/*/.instance.json"
show "jq -c '.api.requests.DescribeInvocationResult, .cache.hits' .swasfs/stats.json"
echo
echo "unmounting."
