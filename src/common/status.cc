#include "common/status.h"

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
  s.message_ = std::string(context) + ": " + message_;
  return s;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(ErrorKindName(kind_));
  if (kind_ == ErrorKind::kCoded) out += " " + std::to_string(http_code_);
  out += ": ";
  out += message_;
  return out;
}

}  // namespace taskcred::common
