// Fuzz target: DPoP proofs as introspect, the kit and the sidecar receive
// them (dpop::CheckProof). Input that is a JSON object {"h": header, "c":
// claims} is signed with a fixed key first, so the claim checks behind the
// signature are reached; any other input is the proof as sent. Invariants
// (abort when broken): no crash or sanitizer report, and an accepted proof
// is one for the expected request (its jti within the bound, its iat within
// the window).
#include <cstddef>
#include <cstdint>

#include "dpop/dpop.h"
#include "dpop/proof_maker.h"
#include "fuzz_util.h"

namespace {

using nlohmann::json;
namespace dpop = taskcred::dpop;
namespace crypto = taskcred::crypto;

constexpr int64_t kNow = 1'800'000'000;
const char kCredential[] = "eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiJ4In0.c2ln";

const crypto::SigningKey& Key() {
  static const crypto::SigningKey key = *crypto::SigningKey::Generate(crypto::Algorithm::kES256);
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string proof = input;
  json parts = json::parse(input, nullptr, false);
  if (parts.is_object() && parts.contains("h") && parts.contains("c")) {
    proof = taskcred::test::SignProof(Key(), {parts["h"], parts["c"]});
  }
  const std::string jkt = taskcred::test::Jkt(Key());
  dpop::Expectation e{.method = "GET",
                      .url = "https://files.example/data/ok.txt?x=1",
                      .access_token = kCredential,
                      .jkt = jkt,
                      .now = kNow};
  auto r = dpop::CheckProof(proof, e);
  if (!r.ok()) return 0;
  TC_FUZZ_CHECK(!r->jti.empty() && r->jti.size() <= dpop::kMaxJtiBytes, "accepted jti out of bounds");
  TC_FUZZ_CHECK(r->iat >= kNow - e.iat_window && r->iat <= kNow + e.iat_window, "accepted iat out of window");
  return 0;
}
