#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole test suite: installs what it needs, builds with -Werror, runs the
# C unit tests (plain, under ASan+UBSan and under TSan), the mount suite with
# the daemon under ASan+UBSan, under valgrind and under TSan, the libFuzzer
# harnesses for a short fixed time, then every pytest module against the plain
# build. Each stage prints how long it took; the last line printed is pytest's
# summary (with the last stage's time); the exit status is non-zero if any
# stage failed. Tests marked "long" run only in that last stage
# (tests/conftest.py skips them under a sanitizer or valgrind).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash contrib/install-deps.sh || exit 1

# Debian's python has pytest; a pyenv or venv python earlier in PATH may not.
PY=/usr/bin/python3
status=0
stage() {
	echo "=== $*"
	local t0=$SECONDS
	"$@" || { echo "=== FAILED: $*"; status=1; }
	echo "=== stage took $((SECONDS - t0)) s"
}
# Repetition tests (the "iterations" fixture) run once in CI; raise it by hand to hunt a race.
export SWASFS_TEST_ITERATIONS=${SWASFS_TEST_ITERATIONS:-1}

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
	$PY -m pytest -q -p no:cacheprovider tests/test_mount.py tests/test_reliability.py tests/test_views.py \
	tests/test_store.py

# And under valgrind's memcheck: leaks and invalid accesses fail the test.
stage env SWASFS_BIN="$top/build/swasfs" TEST_WITH_VALGRIND=1 \
	$PY -m pytest -q -p no:cacheprovider tests/test_mount.py

# ThreadSanitizer (gcc's runtime): the unit tests, then the daemon under the
# mount suite; a race report makes the daemon exit 66 and its log fail the test.
# gcc 12's TSan cannot map its shadow memory when the kernel randomises mmap with
# more than 28 bits (vm.mmap_rnd_bits, 32 on some distributions' kernels): then
# run it without address randomisation.
tsan=(env TSAN_OPTIONS=halt_on_error=1)
[ "$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 28)" -le 28 ] || tsan=(setarch "$(uname -m)" -R "${tsan[@]}")
[ -d build-tsan ] || meson setup build-tsan -Db_sanitize=thread >/dev/null || exit 1
stage meson compile -C build-tsan
stage "${tsan[@]}" meson test -C build-tsan --print-errorlogs
stage "${tsan[@]}" SWASFS_BIN="$top/build-tsan/swasfs" $PY -m pytest -q -p no:cacheprovider tests/test_mount.py \
	tests/test_reliability.py tests/test_readahead.py tests/test_service.py

# The parsers of untrusted input under libFuzzer (clang, ASan+UBSan): replay
# the seed corpora, then fuzz each harness for 8 s from a scratch copy (CI keeps under 15 minutes).
fuzzers=(fuzz_json fuzz_credentials fuzz_b64 fuzz_time fuzz_sign fuzz_store)
[ -d build-fuzz ] || CC=clang meson setup build-fuzz -Dfuzz=true -Dwerror=true >/dev/null || exit 1
stage meson compile -C build-fuzz "${fuzzers[@]}"
stage meson test -C build-fuzz --no-rebuild --suite fuzz --print-errorlogs
stage tests/fuzz/run-fuzzers.sh build-fuzz 8 "${fuzzers[@]}"

# Everything against the plain build; its summary is the last line.
echo "=== everything before this stage took $SECONDS s"
SWASFS_BIN="$top/build/swasfs" $PY -m pytest -p no:cacheprovider -v --durations=15 tests
rc=$?
[ $rc -eq 0 ] || status=1
exit $status
