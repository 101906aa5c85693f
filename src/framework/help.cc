// Help texts: `vault path-help` on the mount root and on each path.
#include <algorithm>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "framework/backend_impl.h"
#include "framework/field_internal.h"
#include "framework/response.h"

namespace taskcred::framework {
namespace {

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// Prefixes every line of `text` with `n` spaces (Go template's indent).
std::string Indent(int n, std::string_view text) {
  std::string pad(static_cast<size_t>(n), ' ');
  std::string out = pad;
  for (char c : text) {
    out.push_back(c);
    if (c == '\n') out += pad;
  }
  return out;
}

std::string OrPlaceholder(std::string_view text, std::string_view placeholder) {
  std::string t = Trim(text);
  return t.empty() ? std::string(placeholder) : t;
}

}  // namespace

std::string VaultVersionOf(const logical::Request& request) {
  if (request.system_view == nullptr) return "unknown";
  common::Result<logical::PluginEnvironment> env = request.system_view->PluginEnv();
  if (!env.ok() || env->vault_version.empty()) return "unknown";
  return env->vault_version;
}

logical::Response Backend::Impl::PathHelp(const CompiledPath& cp, logical::Request& request) const {
  const Path& p = *cp.path;
  std::ostringstream text;
  text << "\nRequest:        " << SanitizeUtf8(request.path) << "\n"
       << "Matching Route: " << cp.pattern.anchored() << "\n\n"
       << OrPlaceholder(p.help.synopsis, "<no synopsis>") << "\n\n";
  if (!p.fields.empty()) {
    text << "## PARAMETERS\n";
    for (const FieldSchema& f : p.fields) {
      std::string description = OrPlaceholder(f.description, "<no description>");
      if (f.deprecated) description = "(DEPRECATED) " + description;
      text << "\n"
           << Indent(4, f.name) << " (" << FieldTypeName(f.type) << ")\n\n"
           << Indent(8, description) << "\n";
    }
    text << "\n";
  }
  text << "## DESCRIPTION\n\n" << OrPlaceholder(p.help.description, "<no description>") << "\n";

  nlohmann::json doc = NewDocument(VaultVersionOf(request));
  std::string prefix;
  if (auto it = request.data.find("requestResponsePrefix"); it != request.data.end() && it->is_string()) {
    prefix = it->get<std::string>();
  }
  try {
    common::Status st = DocumentPath(cp, prefix, doc);
    if (!st.ok()) spec.logger.Warn("error generating OpenAPI", {{"error", st.message()}});
  } catch (const std::exception&) {
    spec.logger.Warn("error generating OpenAPI", {{"path", cp.pattern.anchored()}});
  }
  return HelpResponse(text.str(), doc);
}

logical::Response Backend::Impl::RootHelp(logical::Request& request) const {
  std::vector<std::pair<std::string, std::string>> routes;
  for (const CompiledPath& cp : paths)
    routes.emplace_back(cp.pattern.anchored(), Trim(cp.path->help.synopsis));
  std::sort(routes.begin(), routes.end());

  std::ostringstream text;
  text << "\n## DESCRIPTION\n\n"
       << Trim(spec.help) << "\n\n## PATHS\n\n"
       << "This backend serves the paths below. Use the help command on any request\n"
       << "path matching one of these patterns to see its parameters and description.\n"
       << "Whether a request is allowed depends on the policies of your token.\n\n";
  for (const auto& [route, synopsis] : routes) {
    text << Indent(4, route) << "\n" << Indent(8, synopsis) << "\n\n";
  }

  std::string prefix;
  if (request.data.is_object()) {
    if (auto it = request.data.find("requestResponsePrefix"); it != request.data.end() && it->is_string()) {
      prefix = it->get<std::string>();
    }
  }
  std::string version = VaultVersionOf(request);
  nlohmann::json doc;
  try {
    doc = OpenAPI(version, prefix);
  } catch (const std::exception&) {
    spec.logger.Warn("error generating OpenAPI for the root help");
    doc = NewDocument(version);
  }
  return HelpResponse(text.str(), doc);
}

}  // namespace taskcred::framework
