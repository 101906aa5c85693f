// check_credential JWKS_FILE ISSUER AUDIENCE RESOURCE ACTION < TOKEN
//
// The library example of docs/kit.md: verify a taskcred credential offline
// and enforce one (resource, action). Exit 0 allowed, 1 refused, 2 error.
#include <iostream>
#include <iterator>
#include <string>

#include <taskcred/kit/verifier.h>

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: check_credential JWKS_FILE ISSUER AUDIENCE RESOURCE ACTION < TOKEN\n";
    return 2;
  }
  std::string token(std::istreambuf_iterator<char>(std::cin), {});
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();

  taskcred::kit::VerifierOptions options;
  options.jwks_file = argv[1];  // or .jwks_url = "https://vault.example.com/v1/taskcred/jwks"
  options.issuer = argv[2];
  options.audience = argv[3];
  auto verifier = taskcred::kit::Verifier::Create(std::move(options));
  if (!verifier.ok()) {
    std::cerr << "configuration: " << verifier.status().message() << "\n";
    return 2;
  }

  taskcred::kit::Verdict verdict = (*verifier)->Check(token, argv[4], argv[5]);
  if (verdict.ok) {
    std::cout << "allowed task_id=" << verdict.claims.task_id << " role=" << verdict.claims.role << "\n";
    return 0;
  }
  std::cout << "refused " << verdict.reason << ": " << verdict.detail << "\n";
  return taskcred::kit::IsOperationalReason(verdict.reason) ? 2 : 1;
}
