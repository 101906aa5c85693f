// KitMount: one mount of the suite's REAL taskcred plugin (tests/plugin
// PluginSuite) with its own VaultFront, and the Verifier options that reach
// it: the shared ground of the kit's integration tests.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "kit/verifier.h"
#include "plugin_fixture.h"
#include "vault_front.h"

namespace taskcred::test {

inline constexpr char kIssuer[] = "https://vault.test/v1/taskcred";
inline constexpr char kAudience[] = "backup-service";
inline constexpr char kFrontToken[] = "hvs.kit-integration";
inline constexpr char kEntity[] = "ent-kit";

// The backup role of the design doc, audience kAudience, plus `extra`.
nlohmann::json BackupRoleFor(nlohmann::json extra = nlohmann::json::object());

struct KitMount {
  Mount* mount = nullptr;
  std::unique_ptr<VaultFront> front;

  RequestResult Call(const std::string& op, const std::string& path, nlohmann::json data = nullptr);
  // Call; the answer must be a 200 or 204. Returns its data.
  nlohmann::json Ok(const std::string& op, const std::string& path, nlohmann::json data = nullptr);
  // Issues creds/<role>, expects 200, records the credential as a secret.
  RequestResult Issue(const std::string& role, nlohmann::json params = nlohmann::json::object());
  std::string Credential(const std::string& role, nlohmann::json params = nlohmann::json::object());
  // Revokes the lease as Vault does (operation revoke with the secret's internal data).
  int Revoke(const RequestResult& issued);
  // The JWKS as an HTTP client sees it.
  nlohmann::json Jwks();
};

// A fresh mount of the suite's plugin process, configured with `config`;
// its issuer is kIssuer and status lists are off unless `config` says
// otherwise (kIssuer is not the front's address).
std::unique_ptr<KitMount> NewMount(nlohmann::json config);
// A mount whose active key uses `alg`, with role "backup".
std::unique_ptr<KitMount> NewAlgorithmMount(const std::string& alg);

kit::VerifierOptions OfflineOptions(const KitMount& m);
kit::VerifierOptions OnlineOptions(const KitMount& m);
std::unique_ptr<kit::Verifier> MakeVerifier(kit::VerifierOptions o);

}  // namespace taskcred::test
