// Giving back the pages of code and constants the process touched only to
// start.
//
// A static plugin binary is one 17 MB file mapping. Start-up (gRPC's,
// OpenSSL's and abseil's initialisation, the AutoMTLS key, the first mount's
// set-up) touches code all over it, and the kernel maps 64 KiB around every
// page fault (fault-around), so after start-up most of the file is resident
// although a request runs through about 1 MB of it. Once start-up is over,
// ReleaseStartupPages() unmaps the pages of the executable's segments that
// are never written (text, constants; RELRO excluded) with
// madvise(MADV_DONTNEED): their contents are the file's, so nothing is lost,
// they stay in the page cache, and what the process runs from then on faults
// back in. Resident memory is then the working set, not the start-up path.
#pragma once

#include <cstddef>

namespace taskcred::runtime {

// Once per process (later calls do nothing); returns the bytes advised.
// Skipped when the process locked its memory (mlock): locked pages cannot
// be released.
size_t ReleaseStartupPages(bool memory_locked);

// The mechanism, every time it is called: MADV_DONTNEED over the main
// program's never-written segments; returns the bytes advised.
size_t ReleaseReadOnlyProgramPages();

}  // namespace taskcred::runtime
