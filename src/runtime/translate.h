// Translation between the wire messages (::pb) and taskcred::logical, with the
// encoding rules Vault/OpenBao enforce on the host side:
//  - durations are int64 nanoseconds;
//  - JSON-in-string fields are never empty: null data → "null", null
//    internal_data → "{}";
//  - a LeaseOptions always carries a valid issue_time (now if unset);
//  - every string is valid UTF-8 (invalid bytes become U+FFFD);
//  - Request.data parses as JSON; "" / null → empty object; non-objects are
//    an InvalidArgument error.
// And the error codec: common::Status → ProtoError / {"error": msg} data.
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "logical/backend.h"
#include "logical/request.h"
#include "logical/system_view.h"
#include "sdk/logical/identity.pb.h"
#include "sdk/logical/plugin.pb.h"
#include "sdk/plugin/pb/backend.pb.h"

namespace taskcred::runtime {

// Replaces invalid UTF-8 sequences with U+FFFD.
std::string SanitizeUtf8(std::string_view s);

// JSON text for a wire string field; never empty. `null_as` is used for null.
std::string EncodeJson(const nlohmann::json& value, std::string_view null_as);

// Parses a wire JSON field: "" and "null" → empty object; non-object → error.
common::Result<nlohmann::json> DecodeJsonObject(std::string_view text, std::string_view field);

// kLenient: request data that cannot be decoded becomes {} instead of an
// error. For the existence check, which needs only the path: Vault logs a
// failed existence check as an internal error, and the operation that
// follows refuses the data with a 400 naming the field anyway.
enum class DataDecoding { kStrict, kLenient };
common::Result<taskcred::logical::Request> FromProto(const ::pb::Request& in,
                                                     DataDecoding data = DataDecoding::kStrict);
void ToProto(const taskcred::logical::Request& in, ::pb::Request* out);  // (tests, hosts)

common::Result<taskcred::logical::Secret> FromProto(const ::pb::Secret& in);
void ToProto(const taskcred::logical::Secret& in, ::pb::Secret* out);

// Fails only if data is neither an object nor null.
common::Status ToProto(const taskcred::logical::Response& in, ::pb::Response* out);
common::Result<taskcred::logical::Response> FromProto(const ::pb::Response& in);

void ToProto(const taskcred::logical::Paths& in, ::pb::Paths* out);

taskcred::logical::Entity FromProto(const ::logical::Entity& in);
taskcred::logical::Group FromProto(const ::logical::Group& in);
taskcred::logical::PluginEnvironment FromProto(const ::logical::PluginEnvironment& in);

// Wire encoding of a handler error.
struct EncodedError {
  std::optional<::pb::ProtoError> proto_error;  // err_type always 0..10
  std::optional<std::string> response_error;    // goes to Response.data {"error": ...}
};
// HandleRequest: kInvalidArgument → data.error only; sentinels with a status
// of their own (5,6,7,8) also carry data.error; others ProtoError only.
EncodedError EncodeRequestError(const common::Status& status);
// HandleExistenceCheck / Initialize: ProtoError only; kInvalidArgument → UserError (1).
::pb::ProtoError EncodeProtoError(const common::Status& status);

// Builds the whole reply for a handler result.
void EncodeHandlerResult(const taskcred::logical::HandlerResult& result, ::pb::HandleRequestReply* reply);

}  // namespace taskcred::runtime
