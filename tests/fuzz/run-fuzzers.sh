#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs each libFuzzer harness of a -Dfuzz=true build for SECONDS, starting
# from a scratch copy of its seed corpus in tests/fuzz/corpus/<harness> (the
# tree is never written), and prints one line per harness with libFuzzer's
# final stats. Exits non-zero if any harness crashed, leaked, hung, broke an
# invariant or did not start; the input that did it is kept and named.
#
#   tests/fuzz/run-fuzzers.sh BUILD_DIR SECONDS [HARNESS...]
#   e.g. tests/fuzz/run-fuzzers.sh build-fuzz 20            (CI)
#        tests/fuzz/run-fuzzers.sh build-fuzz 600 fuzz_json (one, longer)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { echo "usage: $0 BUILD_DIR SECONDS [HARNESS...]" >&2; exit 2; }
build=$1 secs=$2
shift 2
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(fuzz_json fuzz_credentials fuzz_b64 fuzz_time fuzz_sign fuzz_store)

status=0
for h in "${harnesses[@]}"; do
	exe="$build/tests/fuzz/$h"
	if [ ! -x "$exe" ]; then
		echo "$h: $exe not built (CC=clang meson setup $build -Dfuzz=true)"
		status=1
		continue
	fi
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/swasfs-$h-XXXXXX")
	cp -r "$here/corpus/${h#fuzz_}" "$scratch/corpus"
	# -timeout: one input taking 10 s is a hang; -rss_limit_mb: a blow-up.
	# TMPDIR: what a harness creates stays in the scratch directory.
	TMPDIR="$scratch" "$exe" -max_total_time="$secs" -print_final_stats=1 -error_exitcode=1 -timeout=10 \
		-rss_limit_mb=2048 -artifact_prefix="$scratch/" "$scratch/corpus" >"$scratch/log" 2>&1
	rc=$?
	stat() { awk -v k="stat::$1:" '$1 == k { print $2 }' "$scratch/log"; }
	cov=$(grep -Eo 'cov: [0-9]+' "$scratch/log" | tail -1)
	echo "$h: rc=$rc execs=$(stat number_of_executed_units) exec/s=$(stat average_exec_per_sec)" \
		"$cov corpus=$(ls "$scratch/corpus" | wc -l) peak_rss_mb=$(stat peak_rss_mb)"
	if [ $rc -ne 0 ]; then
		status=1
		tail -n 40 "$scratch/log"
		echo "$h FAILED: log and input kept in $scratch"
	else
		rm -rf "$scratch"
	fi
done
exit $status
