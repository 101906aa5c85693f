#!/usr/bin/env bash
# Lays out the static plugin's code by how a serving plugin runs it, with
# BOLT (Debian package bolt-15), and replaces BINARY with the result:
#   1. instrument a copy of BINARY (every branch and call counted);
#   2. run TRAINER (taskcred-bench --train) against that copy: issuance,
#      introspection, release, lease renewal/revocation, reads;
#   3. rewrite BINARY from that profile: the code the run used packed
#      together, hot blocks first in each function, the rest split out.
# A plugin so built touches far fewer code pages (resident memory) and takes
# fewer i-cache and iTLB misses (CPU per request); docs/release.md, "Code
# layout", has the figures. The build runs this after linking the static
# plugin (TASKCRED_BOLT); the test suite then runs against its output.
#
# usage: bolt_plugin.sh BINARY TRAINER [LLVM_BOLT]
# BINARY must be linked with -Wl,--emit-relocs. Work files go to BINARY.bolt/.
# On failure BINARY is removed, so that the next build links it again.
set -euo pipefail
[[ $# -ge 2 ]] || { echo "usage: $0 BINARY TRAINER [LLVM_BOLT]" >&2; exit 2; }
bin=$1 trainer=$2 bolt=${3:-llvm-bolt}
work=$bin.bolt
fail() {
  echo "bolt_plugin: $*" >&2
  rm -f "$bin"
  exit 1
}
run() {  # run LOG COMMAND...: quiet unless it fails
  local log=$1
  shift
  "$@" >"$log" 2>&1 || { tail -n 20 "$log" >&2; fail "$(basename "$1") failed (log: $log)"; }
}

readelf -SW "$bin" | grep -q '\.rela\.text' || fail "$bin has no relocations (link it with -Wl,--emit-relocs)"
# BOLT 15 cannot rewrite GCC 12's DWARF 5 (plugin/CMakeLists.txt): a binary
# with debug info would get debug info that no longer matches its code.
if readelf -SW "$bin" | grep -q '\.debug_info'; then fail "$bin has debug info (build it as Release)"; fi
rm -rf "$work"
mkdir -p "$work"
profile=$work/profile.fdata

run "$work/instrument.log" "$bolt" "$bin" -o "$work/instrumented" -instrument \
  -instrumentation-file="$profile" -instrumentation-sleep-time=1 -instrumentation-no-counters-clear
run "$work/train.log" "$trainer" --train --plugin "$work/instrumented" --train-requests "${TRAIN_REQUESTS:-3000}"
# The instrumented plugin's runtime writes the profile every second (a
# static executable has no exit hook for it); the trainer keeps the plugin
# up for a write after its last request.
[[ -s $profile ]] || fail "the training run left no profile ($profile)"

# -use-gnu-stack: BOLT takes the PT_GNU_STACK program header for its new
# code segment (else it moves the header table into that segment, and
# strip/objcopy then write a binary that does not start);
# restore_gnu_stack.py turns the spare PT_NOTE of plugin/spare_phdr.cc into
# PT_GNU_STACK again.
opts=(-data="$profile" -reorder-blocks=ext-tsp -reorder-functions=hfsort+ -split-functions -split-all-cold
  -use-gnu-stack -dyno-stats)
run "$work/optimize.log" "$bolt" "$bin" -o "$work/optimized" "${opts[@]}"
python3 "$(dirname "$0")/restore_gnu_stack.py" "$work/optimized" || fail "could not restore PT_GNU_STACK"
"$work/optimized" --version >/dev/null || fail "the optimized binary does not run"
grep -E 'have non-empty execution profile|hot bytes' "$work/optimize.log" | sed 's/^BOLT-INFO: /bolt_plugin: /' || true
mv -f "$work/optimized" "$bin"
rm -f "$work/instrumented"
