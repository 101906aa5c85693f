// Issuing secrets: MakeSecretResponse stamps the secret type.
#include "framework/secret.h"

#include <string>
#include <utility>

namespace taskcred::framework {

logical::Response MakeSecretResponse(const SecretType& secret_type, nlohmann::json data,
                                     nlohmann::json internal_data,
                                     std::optional<logical::LeaseOptions> lease) {
  logical::Response resp;
  resp.data = data.is_object() ? std::move(data) : nlohmann::json::object();
  logical::Secret secret;
  secret.internal_data = internal_data.is_object() ? std::move(internal_data) : nlohmann::json::object();
  secret.internal_data[std::string(kSecretTypeKey)] = std::string(secret_type.type);
  if (lease) {
    secret.lease_options = *lease;
  } else {
    secret.lease_options.ttl = secret_type.default_duration;
    secret.lease_options.renewable = secret_type.Renewable();
  }
  if (secret.lease_options.issue_time == std::chrono::system_clock::time_point{}) {
    secret.lease_options.issue_time = std::chrono::system_clock::now();
  }
  resp.secret = std::move(secret);
  return resp;
}

}  // namespace taskcred::framework
