/* Linked into every executable of the sanitizer build (scripts/sanitize.sh).
 * The plugin binaries are started by the test harness with a fixed
 * environment (no ASAN_OPTIONS/UBSAN_OPTIONS), so the options that make a
 * sanitizer report fail the run are compiled in: reports go to files under
 * TASKCRED_SAN_LOG_DIR, which the script checks after ctest. Options given in
 * the environment are parsed after these and win. */
#ifndef TASKCRED_SAN_LOG_DIR
#error "define TASKCRED_SAN_LOG_DIR"
#endif

#define TASKCRED_SAN_COMMON "print_stacktrace=1:log_path=" TASKCRED_SAN_LOG_DIR

const char* __asan_default_options(void);
const char* __ubsan_default_options(void);
const char* __lsan_default_options(void);
const char* __tsan_default_options(void);

const char* __asan_default_options(void) { return "detect_leaks=1:halt_on_error=1:" TASKCRED_SAN_COMMON "/asan"; }
const char* __ubsan_default_options(void) { return "halt_on_error=1:" TASKCRED_SAN_COMMON "/ubsan"; }
const char* __lsan_default_options(void) { return TASKCRED_SAN_COMMON "/lsan"; }
const char* __tsan_default_options(void) { return "halt_on_error=1:second_deadlock_stack=1:" TASKCRED_SAN_COMMON "/tsan"; }

/* ThreadSanitizer (scripts/sanitize.sh with SANITIZE=thread) sees only what
 * was compiled with it. Debian's gRPC, abseil and protobuf were not: their
 * locks (absl::Mutex, gpr_mu) and atomics order memory in ways TSan cannot
 * see, so accesses on both sides of them look like races. A report with a
 * frame in those libraries, or in their header code compiled into ours (a
 * function of the grpc::, grpc_core::, absl:: or google::protobuf::
 * namespace), is dropped. The namespace patterns are anchored with '^': a
 * pattern is matched against every frame's full signature, so an unanchored
 * "grpc::" also matched our own HandleRequest(grpc::ServerContext*, ...) and
 * silenced every race in the engine below it.
 * Our code (runtime loop, fibers, broker, engine) has none of those frames
 * on its own stacks: the loop calls into it after the completion queue has
 * returned, so races between our own accesses are still reported.
 * Debian's OpenSSL is uninstrumented too: its internal locks (provider and
 * method stores, error queues) are invisible to TSan in the same way. */
const char* __tsan_default_suppressions(void);
const char* __tsan_default_suppressions(void) {
  return "race:libgrpc.so\n"
         "race:libgrpc++.so\n"
         "race:libgpr.so\n"
         "race:libabsl_\n"
         "race:libprotobuf.so\n"
         "race:^grpc::\n"
         "race:^grpc_core::\n"
         "race:^absl::\n"
         "race:^google::protobuf::\n"
         "race:libcrypto.so\n"
         "race:libssl.so\n"
         "thread:libgrpc.so\n"
         "thread:libgpr.so\n";
}
