// Status and Result<T>: the one error channel of taskcred.
//
// A Status is OK or carries an ErrorKind shaped like Vault's error kinds plus a
// message. The runtime's error codec owns the mapping to Vault's wire errors;
// nothing above the runtime knows about ProtoError numbers. Result<T> holds a
// T or a non-OK Status, in the style of absl::StatusOr. Both are value types
// and safe to copy across threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace taskcred::common {

enum class ErrorKind {
  kOk = 0,
  kInvalidArgument,       // the request is wrong: HTTP 400 with the message
  kPermissionDenied,      // 403
  kUnsupportedOperation,  // 405
  kUnsupportedPath,       // 404
  kInvalidRequest,        // 400 "invalid request" (Vault sentinel)
  kCoded,                 // HTTP status in http_code()
  kUnrecoverable,         // 500; Vault stops retrying a revoke
  kInternal,              // 500
  kUnavailable,           // a dependency (storage, host) did not answer; 500
  kDeadlineExceeded,      // the request deadline passed; 500
};

std::string_view ErrorKindName(ErrorKind kind);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorKind kind, std::string message, int http_code = 0)
      : kind_(kind), message_(std::move(message)), http_code_(http_code) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string msg) { return {ErrorKind::kInvalidArgument, std::move(msg)}; }
  static Status PermissionDenied(std::string msg = "permission denied") {
    return {ErrorKind::kPermissionDenied, std::move(msg)};
  }
  static Status UnsupportedOperation(std::string msg = "unsupported operation") {
    return {ErrorKind::kUnsupportedOperation, std::move(msg)};
  }
  static Status UnsupportedPath(std::string msg = "unsupported path") {
    return {ErrorKind::kUnsupportedPath, std::move(msg)};
  }
  static Status InvalidRequest(std::string msg = "invalid request") {
    return {ErrorKind::kInvalidRequest, std::move(msg)};
  }
  static Status Coded(int http_code, std::string msg) { return {ErrorKind::kCoded, std::move(msg), http_code}; }
  static Status Unrecoverable(std::string msg) { return {ErrorKind::kUnrecoverable, std::move(msg)}; }
  static Status Internal(std::string msg) { return {ErrorKind::kInternal, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {ErrorKind::kUnavailable, std::move(msg)}; }
  static Status DeadlineExceeded(std::string msg) { return {ErrorKind::kDeadlineExceeded, std::move(msg)}; }

  bool ok() const { return kind_ == ErrorKind::kOk; }
  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  int http_code() const { return http_code_; }

  // Returns a copy whose message is "<context>: <message>" (Go's %w wrapping).
  Status WithContext(std::string_view context) const;

  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.kind_ == b.kind_ && a.message_ == b.message_ && a.http_code_ == b.http_code_;
  }

 private:
  ErrorKind kind_ = ErrorKind::kOk;
  std::string message_;
  int http_code_ = 0;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).ok()) v_ = Status::Internal("Result constructed from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace taskcred::common

#define TC_CONCAT_INNER_(a, b) a##b
#define TC_CONCAT_(a, b) TC_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define TC_RETURN_IF_ERROR(expr)                          \
  do {                                                    \
    ::taskcred::common::Status tc_status_ = (expr);       \
    if (!tc_status_.ok()) return tc_status_;              \
  } while (false)

// `lhs` = value of the Result `rexpr`, or returns its status.
#define TC_ASSIGN_OR_RETURN(lhs, rexpr) TC_ASSIGN_OR_RETURN_IMPL_(TC_CONCAT_(tc_result_, __LINE__), lhs, rexpr)
#define TC_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                              \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
