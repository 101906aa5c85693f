// SecretType: a kind of lease-bearing secret a backend issues, as Vault's
// framework.Secret.
//
// Issuing: a handler returns MakeSecretResponse(type, data, internal_data),
// which stamps internal_data["secret_type"] = type (the Go SDK's key, so leases
// stay interchangeable). Renew and revoke requests from Vault carry that
// internal data back; the Backend dispatches on it to the SecretType's renew
// or revoke handler. Handlers get a FieldData over `fields` and the request
// (request.secret holds the lease). The Backend makes renew responses echo
// the lease's internal data and carry an issue time. Value type.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "framework/decl_string.h"
#include "framework/field.h"
#include "framework/path.h"
#include "logical/request.h"

namespace taskcred::framework {

// The internal_data key naming the secret type (same as the Go SDK).
inline constexpr std::string_view kSecretTypeKey = "secret_type";

struct SecretType {
  DeclString type{};
  FieldSchemaList fields{};
  std::chrono::seconds default_duration{0};  // lease TTL of issued secrets (0 = mount default)
  OperationFunc renew{};                     // empty = not renewable (renew answers UnsupportedOperation)
  OperationFunc revoke{};                    // empty = revoke answers UnsupportedOperation

  bool Renewable() const { return static_cast<bool>(renew); }
};

// Builds the response issuing a secret of `secret_type`: data as given,
// internal_data copied plus "secret_type"; lease options from `lease` if given,
// else ttl = default_duration and renewable = Renewable().
// `data`/`internal_data` that are not objects are treated as empty objects.
logical::Response MakeSecretResponse(const SecretType& secret_type, nlohmann::json data,
                                     nlohmann::json internal_data,
                                     std::optional<logical::LeaseOptions> lease = std::nullopt);

}  // namespace taskcred::framework
