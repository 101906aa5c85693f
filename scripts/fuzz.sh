#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (the whole tree
# instrumented with -fsanitize=fuzzer-no-link,address,undefined) into
# build-fuzz and runs each target for a bounded time over a copy of its seed
# corpus (tests/fuzz/corpus/<target>/) plus its saved regressions
# (tests/fuzz/regressions/<target>/). With BUILD_DIR naming a tree that
# scripts/sanitize.sh configured for fuzzing (clang ASan builds do), that tree
# is reused instead of configuring build-fuzz. Exits non-zero when any target finds a
# crash, leak, timeout or OOM, printing the reproducer path; reproduce with
#   build-fuzz/tests/fuzz/<target> <reproducer>
#
# Environment:
#   FUZZ_SECONDS   seconds per target (default 20)
#   FUZZ_TARGETS   space-separated subset (default: all six)
#   FUZZ_JOBS      targets run at the same time (default nproc)
#   BUILD_DIR      build directory (default build-fuzz)
#   JOBS           build parallelism (default nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build-fuzz}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
JOBS=${JOBS:-$(nproc)}
FUZZ_JOBS=${FUZZ_JOBS:-$(nproc)}
ALL_TARGETS="field_parse_fuzzer backend_request_fuzzer template_fuzzer introspect_fuzzer handshake_fuzzer handle_request_fuzzer status_list_fuzzer dpop_proof_fuzzer"
FUZZ_TARGETS=${FUZZ_TARGETS:-$ALL_TARGETS}
start=$(date +%s)

if grep -qs '^TASKCRED_FUZZ:BOOL=ON' "$BUILD_DIR/CMakeCache.txt"; then
  # A tree scripts/sanitize.sh configured (clang, ASan+UBSan, fuzzer-no-link,
  # TASKCRED_FUZZ=ON; BUILD_DIR=build-asan in CI): reused as it is.
  echo "fuzz.sh: reusing the instrumented tree in $BUILD_DIR"
else
  CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} -DTASKCRED_WERROR=OFF \
    -DTASKCRED_FUZZ=ON -DTASKCRED_BUILD_TESTS=ON -DTASKCRED_SANITIZE=address,undefined \
    -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link -fno-sanitize-recover=all" \
    -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link -fno-sanitize-recover=all" ${CMAKE_ARGS:-} >/dev/null
fi
# shellcheck disable=SC2086
cmake --build "$BUILD_DIR" -j"$JOBS" --target $FUZZ_TARGETS
built=$(date +%s)

WORK=$BUILD_DIR/fuzz-work
rm -rf "$WORK" && mkdir -p "$WORK"
# log_path=stderr: a reused sanitize.sh tree has report files compiled in as
# its default; a fuzzer's report belongs in its own log here.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:print_stacktrace=1:abort_on_error=0:log_path=stderr"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=stderr"
export LSAN_OPTIONS="log_path=stderr"

run_one() {
  local t=$1 dir=$WORK/$1
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -r "tests/fuzz/corpus/$t/." "$dir/corpus/" 2>/dev/null || true
  local inputs=("$dir/corpus")
  [[ -d tests/fuzz/regressions/$t ]] && inputs+=("$ROOT/tests/fuzz/regressions/$t")
  local rc=0
  "$BUILD_DIR/tests/fuzz/$t" -max_total_time="$FUZZ_SECONDS" -timeout=5 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "${inputs[@]}" >"$dir/log" 2>&1 || rc=$?
  echo "$rc" >"$dir/rc"
}

running=0
for t in $FUZZ_TARGETS; do
  if [[ ! -x $BUILD_DIR/tests/fuzz/$t ]]; then
    echo "fuzz.sh: $t was not built" >&2
    mkdir -p "$WORK/$t" && echo 99 >"$WORK/$t/rc"
    continue
  fi
  run_one "$t" &
  running=$((running + 1))
  if ((running >= FUZZ_JOBS)); then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true

status=0
for t in $FUZZ_TARGETS; do
  dir=$WORK/$t
  rc=$(cat "$dir/rc" 2>/dev/null || echo 99)
  execs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log" 2>/dev/null | grep -o '[0-9]*$' || echo "?")
  corpus=$(find "$dir/corpus" -type f 2>/dev/null | wc -l)
  if [[ $rc == 0 ]]; then
    echo "fuzz.sh: $t ok (${FUZZ_SECONDS}s, $execs execs, corpus $corpus)"
  else
    status=1
    echo "fuzz.sh: $t FAILED (rc=$rc)" >&2
    grep -E 'ERROR: |SUMMARY: |fuzz invariant failed|runtime error:|Test unit written to' "$dir/log" >&2 || true
    for a in "$dir"/artifacts/*; do
      [[ -e $a ]] && echo "fuzz.sh: reproducer: $a  (replay: $BUILD_DIR/tests/fuzz/$t $a)" >&2
    done
    echo "fuzz.sh: full log: $dir/log" >&2
  fi
done
end=$(date +%s)
echo "fuzz.sh: build $((built - start)) s, fuzzing $((end - built)) s, total $((end - start)) s, load: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$status"
