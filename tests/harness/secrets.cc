#include "harness/secrets.h"

#include <string_view>

namespace taskcred::test {

std::string SecretPart(const std::string& credential) {
  constexpr std::string_view kOpaquePrefix = "tcop_";
  if (credential.rfind(kOpaquePrefix, 0) == 0) {
    const size_t cut = credential.find('_', kOpaquePrefix.size());
    return cut == std::string::npos ? credential : credential.substr(cut + 1);
  }
  const size_t cut = credential.rfind('.');
  return cut == std::string::npos ? credential : credential.substr(cut + 1);
}

}  // namespace taskcred::test
