#include "grants/resource.h"

#include <string>

#include "grants/grant.h"

namespace taskcred::grants::internal {
namespace {

using common::Result;
using common::Status;

constexpr size_t kMaxSchemeBytes = 32;

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsSchemeChar(char c) { return IsLower(c) || IsDigit(c) || c == '+' || c == '.' || c == '-'; }
bool IsAuthorityChar(char c) { return IsLower(c) || IsDigit(c) || c == '.' || c == '_' || c == ':' || c == '-'; }
bool IsPlaceholderNameChar(char c) {
  return IsLower(c) || IsUpper(c) || IsDigit(c) || c == '_' || c == '.' || c == '-';
}

// Why `c` may not appear in a resource part, for the error message.
std::string WhyNot(char c, bool authority) {
  auto u = static_cast<unsigned char>(c);
  if (c == '%') return "percent-encoding is not allowed: resources are compared as literal text ('%' refused)";
  if (c == '\\') return "backslash is not allowed";
  if (c == '?' || c == '#') return "query ('?') and fragment ('#') are not allowed";
  if (u < 0x20 || u == 0x7f) return "control characters are not allowed";
  if (c == ' ') return "spaces are not allowed";
  if (u >= 0x80) return "non-ASCII bytes are not allowed";
  if (authority && IsUpper(c)) return "the authority must be lowercase";
  std::string msg = "character '";
  msg += c;
  msg += authority ? "' is not allowed in the authority (allowed: a-z 0-9 . _ : -)"
                   : "' is not allowed in a path segment (allowed: A-Z a-z 0-9 . _ ~ - : @ + = ,)";
  return msg;
}

bool AllDots(std::string_view s) { return !s.empty() && s.find_first_not_of('.') == std::string_view::npos; }

// Checks one authority or segment. `authority` selects the alphabet and the
// wildcard rule; `last` says whether a segment is the final one.
Status CheckPart(std::string_view part, ResourceKind kind, bool authority, bool last) {
  if (part.empty()) {
    return Status::InvalidArgument(authority ? "the authority must not be empty"
                                             : "empty path segments ('//' or a trailing '/') are not allowed");
  }
  if (part.find('*') != std::string_view::npos) {
    if (authority) return Status::InvalidArgument("wildcards are not allowed in the authority");
    if (kind == ResourceKind::kConcrete) {
      return Status::InvalidArgument("wildcards ('*') are not allowed in a concrete resource");
    }
    if (part == "*") return Status::Ok();
    if (part == "**") {
      if (!last) return Status::InvalidArgument("'**' is only allowed as the last segment");
      return Status::Ok();
    }
    return Status::InvalidArgument("'*' must be a whole segment ('*', or '**' as the last segment), not part of one");
  }
  bool has_placeholder = false;
  for (size_t i = 0; i < part.size(); ++i) {
    char c = part[i];
    if (c == '{' || c == '}') {
      if (kind != ResourceKind::kTemplate) {
        return Status::InvalidArgument("placeholders ('{{...}}') are only allowed in role templates");
      }
      if (c == '}' || i + 1 >= part.size() || part[i + 1] != '{') {
        return Status::InvalidArgument("braces must form placeholders '{{name}}'");
      }
      size_t close = part.find("}}", i + 2);
      if (close == std::string_view::npos) return Status::InvalidArgument("unterminated placeholder '{{'");
      std::string_view name = part.substr(i + 2, close - i - 2);
      if (name.empty()) return Status::InvalidArgument("empty placeholder '{{}}'");
      for (char n : name) {
        if (!IsPlaceholderNameChar(n)) {
          return Status::InvalidArgument("placeholder names must match [A-Za-z0-9_.-]+");
        }
      }
      has_placeholder = true;
      i = close + 1;
      continue;
    }
    bool ok = authority ? IsAuthorityChar(c) : IsSegmentChar(c);
    if (!ok) return Status::InvalidArgument(WhyNot(c, authority));
  }
  if (!has_placeholder && AllDots(part)) {
    return Status::InvalidArgument(authority ? "the authority must not consist of dots only"
                                             : "'.' and '..' (any all-dot segment) are not allowed");
  }
  return Status::Ok();
}

}  // namespace

bool IsSegmentChar(char c) {
  if (IsLower(c) || IsUpper(c) || IsDigit(c)) return true;
  switch (c) {
    case '.': case '_': case '~': case '-': case ':': case '@': case '+': case '=': case ',': return true;
    default: return false;
  }
}

std::string Quote(std::string_view text) {
  constexpr size_t kMax = 120;
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < kMax; ++i) {
    auto u = static_cast<unsigned char>(text[i]);
    if (u < 0x20 || u >= 0x7f || text[i] == '"' || text[i] == '\\') {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += text[i];
    }
  }
  if (text.size() > kMax) out += "...";
  out += "\"";
  return out;
}

Result<ParsedResource> ParseResource(std::string_view resource, ResourceKind kind) {
  auto fail = [&](std::string_view rule) {
    return Status::InvalidArgument("resource " + Quote(resource) + ": " + std::string(rule));
  };
  if (resource.empty()) return fail("must not be empty");
  if (resource.size() > kMaxResourceBytes) return fail("longer than 1024 bytes");

  ParsedResource out;
  size_t sep = resource.find("://");
  if (sep == std::string_view::npos) return fail("must have the form scheme://authority/path");
  out.scheme = resource.substr(0, sep);
  if (out.scheme.empty() || out.scheme.size() > kMaxSchemeBytes || !IsLower(out.scheme[0])) {
    return fail("scheme must match [a-z][a-z0-9+.-]* (at most 32 bytes, lowercase)");
  }
  for (char c : out.scheme) {
    if (!IsSchemeChar(c)) return fail("scheme must match [a-z][a-z0-9+.-]* (at most 32 bytes, lowercase)");
  }

  std::string_view rest = resource.substr(sep + 3);
  size_t slash = rest.find('/');
  out.authority = rest.substr(0, slash);
  if (Status s = CheckPart(out.authority, kind, /*authority=*/true, /*last=*/false); !s.ok()) return fail(s.message());
  if (slash == std::string_view::npos) return out;

  std::string_view path = rest.substr(slash + 1);
  while (true) {
    size_t next = path.find('/');
    out.segments.push_back(path.substr(0, next));
    if (out.segments.size() > kMaxSegments) return fail("more than 64 path segments");
    if (next == std::string_view::npos) break;
    path = path.substr(next + 1);
  }
  for (size_t i = 0; i < out.segments.size(); ++i) {
    Status s = CheckPart(out.segments[i], kind, /*authority=*/false, /*last=*/i + 1 == out.segments.size());
    if (!s.ok()) return fail(s.message());
  }
  return out;
}

}  // namespace taskcred::grants::internal
