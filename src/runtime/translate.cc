#include "runtime/translate.h"

#include <google/protobuf/timestamp.pb.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

namespace taskcred::runtime {
namespace {

using common::ErrorKind;
using common::Result;
using common::Status;
namespace tl = taskcred::logical;

constexpr uint32_t kErrUnknown = 0, kErrUser = 1, kErrInternal = 2, kErrCoded = 3, kErrUnsupportedOperation = 5,
                   kErrUnsupportedPath = 6, kErrInvalidRequest = 7, kErrPermissionDenied = 8,
                   kErrUnrecoverable = 10;

void ToTimestamp(std::chrono::system_clock::time_point tp, google::protobuf::Timestamp* out) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(tp.time_since_epoch()).count();
  int64_t secs = ns / 1000000000;
  int64_t nanos = ns % 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    --secs;
  }
  out->set_seconds(secs);
  out->set_nanos(static_cast<int32_t>(nanos));
}

std::chrono::system_clock::time_point FromTimestamp(const google::protobuf::Timestamp& ts) {
  auto d = std::chrono::seconds(ts.seconds()) + std::chrono::nanoseconds(ts.nanos());
  return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(d));
}

void LeaseToProto(const tl::LeaseOptions& in, ::pb::LeaseOptions* out) {
  out->set_ttl(in.ttl.count());
  out->set_maxttl(in.max_ttl.count());
  out->set_renewable(in.renewable);
  out->set_increment(in.increment.count());
  // Hosts reject a lease without a valid issue_time; "now" is what Vault uses anyway.
  auto tp = in.issue_time == std::chrono::system_clock::time_point{} ? std::chrono::system_clock::now()
                                                                       : in.issue_time;
  ToTimestamp(tp, out->mutable_issue_time());
}

tl::LeaseOptions LeaseFromProto(const ::pb::LeaseOptions& in) {
  tl::LeaseOptions out;
  out.ttl = std::chrono::nanoseconds(in.ttl());
  out.max_ttl = std::chrono::nanoseconds(in.maxttl());
  out.renewable = in.renewable();
  out.increment = std::chrono::nanoseconds(in.increment());
  if (in.has_issue_time()) out.issue_time = FromTimestamp(in.issue_time());
  return out;
}

void HeadersToProto(const std::map<std::string, std::vector<std::string>>& in,
                    google::protobuf::Map<std::string, ::pb::Header>* out) {
  for (const auto& [k, vs] : in) {
    auto& h = (*out)[SanitizeUtf8(k)];
    for (const auto& v : vs) h.add_header(SanitizeUtf8(v));
  }
}

std::map<std::string, std::vector<std::string>> HeadersFromProto(
    const google::protobuf::Map<std::string, ::pb::Header>& in) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [k, h] : in) out[k].assign(h.header().begin(), h.header().end());
  return out;
}

std::map<std::string, std::string> MapFromProto(const google::protobuf::Map<std::string, std::string>& in) {
  return {in.begin(), in.end()};
}

}  // namespace

std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  auto u = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  while (i < s.size()) {
    unsigned char c = u(i);
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07;
    }
    bool ok = len != 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      if ((u(i + k) & 0xC0) != 0x80) ok = false;
      else cp = (cp << 6) | (u(i + k) & 0x3F);
    }
    if (ok) {
      // Reject overlong forms, surrogates and out-of-range code points.
      if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
          (cp >= 0xD800 && cp <= 0xDFFF)) {
        ok = false;
      }
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

std::string EncodeJson(const nlohmann::json& value, std::string_view null_as) {
  if (value.is_null()) return std::string(null_as);
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

constexpr size_t kMaxJsonDepth = 512;

// A top-level member name for a message: valid UTF-8, at most 64 bytes.
std::string FieldName(std::string_view raw) {
  std::string name = SanitizeUtf8(raw.substr(0, 64));
  return raw.size() > 64 ? name + "..." : name;
}

// Scans JSON text for bracket nesting deeper than kMaxJsonDepth (brackets
// inside strings do not count); returns whether it is, and the raw name of
// the top-level member it is in (empty when none). nlohmann parses
// iteratively, but copying or walking a value recurses once per level, so a
// million-deep body must be refused before it is parsed.
struct DepthScan {
  bool too_deep = false;
  std::string_view field;
};
DepthScan ScanDepth(std::string_view text) {
  DepthScan out;
  size_t depth = 0;
  bool in_string = false, escaped = false, expect_key = false;
  size_t key_start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
        if (key_start != 0) {
          out.field = text.substr(key_start, i - key_start);
          key_start = 0;
        }
      }
    } else if (c == '"') {
      in_string = true;
      if (depth == 1 && expect_key) {
        key_start = i + 1;
        expect_key = false;
      }
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) {
        out.too_deep = true;
        return out;
      }
      if (depth == 1) expect_key = c == '{';
    } else if ((c == ']' || c == '}') && depth > 0) {
      if (--depth == 0) out.field = {};
    } else if (c == ',' && depth == 1) {
      expect_key = true;
    }
  }
  return out;
}

// Replays a failed parse to say where and why it failed: the top-level
// member being parsed and nlohmann's reason (without its echo of the input).
class ErrorLocator : public nlohmann::json_sax<nlohmann::json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return ++depth_, true; }
  bool end_object() override { return --depth_, true; }
  bool start_array(std::size_t) override { return ++depth_, true; }
  bool end_array() override { return --depth_, true; }
  bool key(string_t& k) override {
    if (depth_ == 1) field_ = k;
    return true;
  }
  bool parse_error(std::size_t, const std::string& token, const nlohmann::detail::exception& ex) override {
    id_ = ex.id;
    token_ = token.substr(0, 32);
    reason_ = ex.what();
    if (size_t b = reason_.find("] "); b != std::string::npos) reason_.erase(0, b + 2);
    if (size_t e = reason_.find("; last read"); e != std::string::npos) reason_.erase(e);
    return false;
  }

  // The message for `what` ("request data").
  std::string Message(std::string_view what) const {
    std::string in = field_.empty() ? "" : " (in or after field \"" + FieldName(field_) + "\")";
    if (id_ == 406) {  // out_of_range: a number that does not fit a double
      std::string number = SanitizeUtf8(token_);
      if (!field_.empty()) return FieldName(field_) + ": number " + number + " is out of range";
      return std::string(what) + ": number " + number + " is out of range";
    }
    return std::string(what) + " is not valid JSON: " + reason_ + in;
  }

 private:
  int depth_ = 0;
  std::string field_, token_, reason_;
  int id_ = 0;
};

}  // namespace

Result<nlohmann::json> DecodeJsonObject(std::string_view text, std::string_view field) {
  if (text.empty()) return nlohmann::json::object();
  if (DepthScan scan = ScanDepth(text); scan.too_deep) {
    std::string depth = "nested more than " + std::to_string(kMaxJsonDepth) + " levels deep";
    if (!scan.field.empty()) return Status::InvalidArgument(FieldName(scan.field) + ": " + depth);
    return Status::InvalidArgument(std::string(field) + " is " + depth);
  }
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    ErrorLocator locator;
    nlohmann::json::sax_parse(text, &locator);
    return Status::InvalidArgument(locator.Message(field));
  }
  if (j.is_null()) return nlohmann::json::object();
  if (!j.is_object()) return Status::InvalidArgument(std::string(field) + " must be a JSON object");
  return j;
}

Result<tl::Secret> FromProto(const ::pb::Secret& in) {
  tl::Secret out;
  out.lease_options = LeaseFromProto(in.lease_options());
  TC_ASSIGN_OR_RETURN(out.internal_data, DecodeJsonObject(in.internal_data(), "secret.internal_data"));
  out.lease_id = in.lease_id();
  return out;
}

void ToProto(const tl::Secret& in, ::pb::Secret* out) {
  LeaseToProto(in.lease_options, out->mutable_lease_options());
  out->set_internal_data(EncodeJson(in.internal_data, "{}"));
  out->set_lease_id(SanitizeUtf8(in.lease_id));
}

Result<tl::Request> FromProto(const ::pb::Request& in, DataDecoding data) {
  tl::Request out;
  auto op = tl::ParseOperation(in.operation());
  if (!op) return Status::UnsupportedOperation("unsupported operation \"" + SanitizeUtf8(in.operation()) + "\"");
  out.operation = *op;
  out.id = in.id();
  out.path = in.path();
  auto decoded = DecodeJsonObject(in.data(), "request data");
  if (decoded.ok()) {
    out.data = std::move(decoded).value();
  } else if (data == DataDecoding::kLenient) {
    out.data = nlohmann::json::object();
  } else {
    return decoded.status();
  }
  if (in.has_secret()) {
    TC_ASSIGN_OR_RETURN(tl::Secret s, FromProto(in.secret()));
    out.secret = std::move(s);
  }
  out.headers = HeadersFromProto(in.headers());
  out.client_token = in.client_token();
  out.client_token_accessor = in.client_token_accessor();
  out.display_name = in.display_name();
  out.mount_point = in.mount_point();
  out.mount_type = in.mount_type();
  out.mount_accessor = in.mount_accessor();
  out.entity_id = in.entity_id();
  out.unauthenticated = in.unauthenticated();
  if (in.has_connection()) {
    out.connection = tl::Connection{in.connection().remote_addr(), in.connection().remote_port()};
  }
  return out;
}

void ToProto(const tl::Request& in, ::pb::Request* out) {
  out->set_id(SanitizeUtf8(in.id));
  out->set_operation(std::string(tl::OperationName(in.operation)));
  out->set_path(SanitizeUtf8(in.path));
  out->set_data(EncodeJson(in.data, "null"));
  if (in.secret) ToProto(*in.secret, out->mutable_secret());
  HeadersToProto(in.headers, out->mutable_headers());
  out->set_client_token(SanitizeUtf8(in.client_token));
  out->set_client_token_accessor(SanitizeUtf8(in.client_token_accessor));
  out->set_display_name(SanitizeUtf8(in.display_name));
  out->set_mount_point(SanitizeUtf8(in.mount_point));
  out->set_mount_type(SanitizeUtf8(in.mount_type));
  out->set_mount_accessor(SanitizeUtf8(in.mount_accessor));
  out->set_entity_id(SanitizeUtf8(in.entity_id));
  out->set_unauthenticated(in.unauthenticated);
  if (in.connection) {
    out->mutable_connection()->set_remote_addr(SanitizeUtf8(in.connection->remote_addr));
    out->mutable_connection()->set_remote_port(in.connection->remote_port);
  }
}

Status ToProto(const tl::Response& in, ::pb::Response* out) {
  if (!in.data.is_null() && !in.data.is_object()) {
    return Status::Internal("response data must be a JSON object");
  }
  out->set_data(EncodeJson(in.data, "null"));
  if (in.secret) ToProto(*in.secret, out->mutable_secret());
  out->set_redirect(SanitizeUtf8(in.redirect));
  for (const auto& w : in.warnings) out->add_warnings(SanitizeUtf8(w));
  HeadersToProto(in.headers, out->mutable_headers());
  return Status::Ok();
}

Result<tl::Response> FromProto(const ::pb::Response& in) {
  tl::Response out;
  TC_ASSIGN_OR_RETURN(out.data, DecodeJsonObject(in.data(), "response data"));
  if (in.has_secret()) {
    TC_ASSIGN_OR_RETURN(tl::Secret s, FromProto(in.secret()));
    out.secret = std::move(s);
  }
  out.redirect = in.redirect();
  out.warnings.assign(in.warnings().begin(), in.warnings().end());
  out.headers = HeadersFromProto(in.headers());
  return out;
}

void ToProto(const tl::Paths& in, ::pb::Paths* out) {
  auto fill = [](const std::vector<std::string>& v, google::protobuf::RepeatedPtrField<std::string>* r) {
    for (const auto& s : v) r->Add(SanitizeUtf8(s));
  };
  fill(in.root, out->mutable_root());
  fill(in.unauthenticated, out->mutable_unauthenticated());
  fill(in.local_storage, out->mutable_local_storage());
  fill(in.seal_wrap_storage, out->mutable_seal_wrap_storage());
  fill(in.write_forwarded_storage, out->mutable_write_forwarded_storage());
}

tl::Entity FromProto(const ::logical::Entity& in) {
  tl::Entity out;
  out.id = in.id();
  out.name = in.name();
  out.metadata = MapFromProto(in.metadata());
  out.disabled = in.disabled();
  out.namespace_id = in.namespace_id();
  for (const auto& a : in.aliases()) {
    tl::Alias alias;
    alias.id = a.id();
    alias.mount_type = a.mount_type();
    alias.mount_accessor = a.mount_accessor();
    alias.name = a.name();
    alias.metadata = MapFromProto(a.metadata());
    alias.custom_metadata = MapFromProto(a.custom_metadata());
    alias.local = a.local();
    out.aliases.push_back(std::move(alias));
  }
  return out;
}

tl::Group FromProto(const ::logical::Group& in) {
  return tl::Group{in.id(), in.name(), MapFromProto(in.metadata()), in.namespace_id()};
}

tl::PluginEnvironment FromProto(const ::logical::PluginEnvironment& in) {
  return tl::PluginEnvironment{in.vault_version(), in.vault_version_prerelease(), in.vault_version_metadata()};
}

::pb::ProtoError EncodeProtoError(const Status& status) {
  ::pb::ProtoError e;
  e.set_err_msg(SanitizeUtf8(status.message()));
  switch (status.kind()) {
    case ErrorKind::kOk: e.set_err_type(kErrUnknown); break;
    case ErrorKind::kInvalidArgument: e.set_err_type(kErrUser); break;
    case ErrorKind::kPermissionDenied: e.set_err_type(kErrPermissionDenied); break;
    case ErrorKind::kUnsupportedOperation: e.set_err_type(kErrUnsupportedOperation); break;
    case ErrorKind::kUnsupportedPath: e.set_err_type(kErrUnsupportedPath); break;
    case ErrorKind::kInvalidRequest: e.set_err_type(kErrInvalidRequest); break;
    case ErrorKind::kCoded:
      e.set_err_type(kErrCoded);
      e.set_err_code(status.http_code() >= 100 && status.http_code() <= 599 ? status.http_code() : 500);
      break;
    case ErrorKind::kUnrecoverable: e.set_err_type(kErrUnrecoverable); break;
    case ErrorKind::kInternal:
    case ErrorKind::kUnavailable:
    case ErrorKind::kDeadlineExceeded: e.set_err_type(kErrInternal); break;
  }
  return e;
}

EncodedError EncodeRequestError(const Status& status) {
  EncodedError out;
  if (status.ok()) return out;
  switch (status.kind()) {
    case ErrorKind::kInvalidArgument:
      out.response_error = SanitizeUtf8(status.message());
      return out;
    case ErrorKind::kPermissionDenied:
    case ErrorKind::kUnsupportedOperation:
    case ErrorKind::kUnsupportedPath:
    case ErrorKind::kInvalidRequest:
      // The sentinel drops the message; the host shows data.error with the sentinel's status.
      out.response_error = SanitizeUtf8(status.message());
      break;
    default:
      break;
  }
  out.proto_error = EncodeProtoError(status);
  return out;
}

void EncodeHandlerResult(const tl::HandlerResult& result, ::pb::HandleRequestReply* reply) {
  if (!result.ok()) {
    EncodedError e = EncodeRequestError(result.status());
    if (e.response_error) {
      reply->mutable_response()->set_data(EncodeJson(nlohmann::json{{"error", *e.response_error}}, "null"));
    }
    if (e.proto_error) *reply->mutable_err() = *e.proto_error;
    return;
  }
  if (!result->has_value()) return;  // nil response
  Status s = ToProto(**result, reply->mutable_response());
  if (!s.ok()) {
    reply->clear_response();
    *reply->mutable_err() = EncodeProtoError(s);
  }
}

}  // namespace taskcred::runtime
