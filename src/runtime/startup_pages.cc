#include "runtime/startup_pages.h"

#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <utility>
#include <vector>

namespace taskcred::runtime {

namespace {

struct Segments {
  std::vector<std::pair<uintptr_t, uintptr_t>> read_only;  // [begin, end) of PT_LOADs without PF_W
  uintptr_t relro_begin = 0, relro_end = 0;
};

// The main program is the first object dl_iterate_phdr reports.
int CollectMainProgram(dl_phdr_info* info, size_t, void* data) {
  auto* s = static_cast<Segments*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    const uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_GNU_RELRO) {
      s->relro_begin = begin;
      s->relro_end = begin + ph.p_memsz;
    } else if (ph.p_type == PT_LOAD && (ph.p_flags & PF_W) == 0) {
      s->read_only.emplace_back(begin, begin + ph.p_filesz);
    }
  }
  return 1;
}

}  // namespace

size_t ReleaseStartupPages(bool memory_locked) {
  static std::atomic<bool> done{false};
  if (memory_locked || done.exchange(true)) return 0;
  return ReleaseReadOnlyProgramPages();
}

size_t ReleaseReadOnlyProgramPages() {
  Segments s;
  dl_iterate_phdr(CollectMainProgram, &s);
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  size_t advised = 0;
  for (auto [begin, end] : s.read_only) {
    // Nothing that shares the RELRO range (written at start, then made
    // read-only; linkers place it in a writable segment, so this is a guard),
    // and whole pages only: a partial page may share a frame with a writable
    // neighbour.
    if (begin < s.relro_end && s.relro_begin < end) continue;
    begin = (begin + page - 1) & ~(page - 1);
    end &= ~(page - 1);
    if (end <= begin) continue;
    if (madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED) == 0) advised += end - begin;
  }
  return advised;
}

}  // namespace taskcred::runtime
