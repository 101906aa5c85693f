// Fuzz target: the status_list claim a verifier decodes from a fetched list
// (statuslist::Decode), fed as JSON ({"bits": .., "lst": ..}) or, for any
// other input, as the compressed bytes of "lst" themselves. Invariants
// (abort when broken): no crash or sanitizer report, the inflated list stays
// within the bound, and whatever decodes encodes and decodes back to the
// same bits.
#include <cstddef>
#include <cstdint>

#include "crypto/encoding.h"
#include "fuzz_util.h"
#include "statuslist/status_list.h"

namespace statuslist = taskcred::statuslist;
using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kBound = size_t{1} << 20;
  const std::string input(reinterpret_cast<const char*>(data), size);
  json claim = json::parse(input, nullptr, false);
  if (claim.is_discarded()) claim = {{"bits", 1}, {"lst", taskcred::crypto::Base64UrlEncode(input)}};
  auto list = statuslist::Decode(claim, kBound);
  if (!list.ok()) return 0;
  TC_FUZZ_CHECK(list->bytes().size() <= kBound, "decoded list passes the bound");
  auto again = statuslist::Decode(statuslist::Encode(*list), kBound);
  TC_FUZZ_CHECK(again.ok() && again->bytes() == list->bytes(), "a decoded list does not round-trip");
  return 0;
}
