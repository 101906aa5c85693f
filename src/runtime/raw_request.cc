#include "runtime/raw_request.h"

#include <malloc.h>

namespace taskcred::runtime {

std::optional<common::Status> TooLarge(size_t size, const taskcred::logical::Backend& backend) {
  const size_t limit = backend.MaxRequestBytes();
  if (size <= limit) return std::nullopt;
  return common::Status::Coded(413, "request too large: " + std::to_string(size) +
                                        " bytes as received, more than this mount's max_request_bytes (" +
                                        std::to_string(limit) + ")");
}

void TrimAfterLargeRequest(size_t received) {
  if (received >= 1024 * 1024) malloc_trim(0);
}

}  // namespace taskcred::runtime
