#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole test suite: installs what it needs, builds with -Werror, runs the
# C unit tests (plain and under ASan+UBSan), the mount suite with the daemon
# under ASan+UBSan and under valgrind, the libFuzzer harnesses for a short
# fixed time, then every pytest module against the plain build. The last
# line printed is pytest's summary; the exit status is non-zero if any stage
# failed.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash contrib/install-deps.sh || exit 1

# Debian's python has pytest; a pyenv or venv python earlier in PATH may not.
PY=/usr/bin/python3
status=0
stage() {
	echo "=== $*"
	"$@" || { echo "=== FAILED: $*"; status=1; }
}

# Formatting: the checked-in .clang-format, on every C file.
stage clang-format --dry-run --Werror src/*.c include/*.h tests/*.c tests/*.h tests/fuzz/*.c tests/fuzz/*.h

[ -d build ] || meson setup build -Dwerror=true >/dev/null || exit 1
stage meson compile -C build
stage meson test -C build --print-errorlogs

[ -d build-asan ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null || exit 1
stage meson compile -C build-asan
stage env ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-asan --print-errorlogs

# The daemon under the sanitizers, driven by the mount suite.
stage env SWASFS_BIN="$top/build-asan/swasfs" ASAN_OPTIONS=detect_leaks=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	$PY -m pytest -q -p no:cacheprovider tests/test_mount.py

# And under valgrind's memcheck: leaks and invalid accesses fail the test.
stage env SWASFS_BIN="$top/build/swasfs" TEST_WITH_VALGRIND=1 \
	$PY -m pytest -q -p no:cacheprovider tests/test_mount.py

# The parsers of untrusted input under libFuzzer (clang, ASan+UBSan): replay
# the seed corpora, then fuzz each harness for 20 s from a scratch copy.
fuzzers=(fuzz_json fuzz_credentials fuzz_b64 fuzz_time fuzz_sign)
[ -d build-fuzz ] || CC=clang meson setup build-fuzz -Dfuzz=true >/dev/null || exit 1
stage meson compile -C build-fuzz "${fuzzers[@]}"
stage meson test -C build-fuzz --no-rebuild --suite fuzz --print-errorlogs
stage tests/fuzz/run-fuzzers.sh build-fuzz 20 "${fuzzers[@]}"

# Everything against the plain build; its summary is the last line.
SWASFS_BIN="$top/build/swasfs" $PY -m pytest -p no:cacheprovider -v tests
rc=$?
[ $rc -eq 0 ] || status=1
exit $status
