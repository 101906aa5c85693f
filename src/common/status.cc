#include "common/status.h"

#include <string>
#include <utility>

namespace taskcred::common {

std::string_view ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kOk: return "ok";
    case ErrorKind::kInvalidArgument: return "invalid argument";
    case ErrorKind::kPermissionDenied: return "permission denied";
    case ErrorKind::kUnsupportedOperation: return "unsupported operation";
    case ErrorKind::kUnsupportedPath: return "unsupported path";
    case ErrorKind::kInvalidRequest: return "invalid request";
    case ErrorKind::kCoded: return "coded";
    case ErrorKind::kUnrecoverable: return "unrecoverable";
    case ErrorKind::kInternal: return "internal";
    case ErrorKind::kUnavailable: return "unavailable";
    case ErrorKind::kDeadlineExceeded: return "deadline exceeded";
  }
  return "unknown";
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  Status s = *this;
  // Built by reserve + append: the `std::string + const char*` chain trips
  // GCC 12's -Wrestrict false positive at -O3.
  std::string message;
  message.reserve(context.size() + 2 + message_.size());
  message.append(context).append(": ").append(message_);
  s.message_ = std::move(message);
  return s;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(ErrorKindName(kind_));
  if (kind_ == ErrorKind::kCoded) {
    out.push_back(' ');
    out.append(std::to_string(http_code_));
  }
  out.append(": ").append(message_);
  return out;
}

}  // namespace taskcred::common
