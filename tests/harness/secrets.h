// What of a taskcred credential is secret, for the log-hygiene checks.
#pragma once

#include <string>

namespace taskcred::test {

// The part of a credential that makes it a secret: a JWT's signature (after
// the last '.'), an opaque token's random part (after tcop_<task_id>_; the
// task id holds no '_', the base64url random part may). Never a short tail:
// splitting at the last '_' would cut inside the random part, and a one-letter
// "secret" is found in any log.
std::string SecretPart(const std::string& credential);

}  // namespace taskcred::test
