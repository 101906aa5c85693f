// OpenAPI 3.0.2 documents for help responses, following the rules of Vault's
// openapi.go so that Vault can merge them into sys/internal/specs/openapi.
#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "framework/backend_impl.h"
#include "framework/field_internal.h"

namespace taskcred::framework {
namespace {

using common::Status;
using logical::Operation;
using nlohmann::json;

// ---- Pattern expansion: a small parser for the regex subset paths use. ----

struct Node {
  enum class Kind { kEmpty, kLiteral, kCapture, kConcat, kAlternate, kQuest };
  Kind kind = Kind::kEmpty;
  std::string text;  // literal char(s) or capture name
  std::vector<Node> subs;
};

class PatternParser {
 public:
  explicit PatternParser(std::string_view s) : s_(s) {}

  // std::nullopt if the pattern uses something with no OpenAPI form.
  std::optional<Node> Parse() {
    std::optional<Node> n = ParseAlternate();
    if (!n || pos_ != s_.size()) return std::nullopt;
    return n;
  }

 private:
  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek() const { return s_[pos_]; }

  std::optional<Node> ParseAlternate() {
    Node alt{Node::Kind::kAlternate, "", {}};
    std::optional<Node> first = ParseConcat();
    if (!first) return std::nullopt;
    alt.subs.push_back(std::move(*first));
    while (!AtEnd() && Peek() == '|') {
      ++pos_;
      std::optional<Node> next = ParseConcat();
      if (!next) return std::nullopt;
      alt.subs.push_back(std::move(*next));
    }
    if (alt.subs.size() == 1) return std::move(alt.subs.front());
    return alt;
  }

  std::optional<Node> ParseConcat() {
    Node concat{Node::Kind::kConcat, "", {}};
    while (!AtEnd() && Peek() != '|' && Peek() != ')') {
      std::optional<Node> atom = ParseAtom();
      if (!atom) return std::nullopt;
      while (!AtEnd() && (Peek() == '?' || Peek() == '*' || Peek() == '+' || Peek() == '{')) {
        if (Peek() != '?') return std::nullopt;
        ++pos_;
        if (!AtEnd() && Peek() == '?') ++pos_;  // lazy
        atom = Node{Node::Kind::kQuest, "", {std::move(*atom)}};
      }
      concat.subs.push_back(std::move(*atom));
    }
    return concat;
  }

  // Skips to just after the ')' closing the group whose body starts at pos_.
  bool SkipGroupBody() {
    int depth = 1;
    bool in_class = false;
    while (!AtEnd()) {
      char c = s_[pos_++];
      if (c == '\\') {
        ++pos_;
      } else if (in_class) {
        if (c == ']') in_class = false;
      } else if (c == '[') {
        in_class = true;
        if (!AtEnd() && Peek() == '^') ++pos_;
        if (!AtEnd() && Peek() == ']') ++pos_;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')') {
        if (--depth == 0) return true;
      }
    }
    return false;
  }

  std::optional<Node> ParseAtom() {
    char c = Peek();
    if (c == '^' || c == '$') {
      ++pos_;
      return Node{};
    }
    if (c == '(') {
      std::string_view rest = s_.substr(pos_);
      if (rest.rfind("(?P<", 0) == 0 || rest.rfind("(?<", 0) == 0) {
        pos_ += rest[2] == 'P' ? 4 : 3;
        size_t end = s_.find('>', pos_);
        if (end == std::string_view::npos) return std::nullopt;
        std::string name(s_.substr(pos_, end - pos_));
        pos_ = end + 1;
        if (!SkipGroupBody()) return std::nullopt;
        return Node{Node::Kind::kCapture, std::move(name), {}};
      }
      if (rest.rfind("(?:", 0) == 0) {
        pos_ += 3;
      } else if (rest.rfind("(?", 0) == 0) {
        return std::nullopt;  // flags
      } else {
        pos_ += 1;
      }
      std::optional<Node> inner = ParseAlternate();
      if (!inner || AtEnd() || Peek() != ')') return std::nullopt;
      ++pos_;
      return inner;
    }
    if (c == '[' || c == '.') return std::nullopt;
    if (c == '\\') {
      if (pos_ + 1 >= s_.size()) return std::nullopt;
      char e = s_[pos_ + 1];
      if (std::isalnum(static_cast<unsigned char>(e))) return std::nullopt;
      pos_ += 2;
      return Node{Node::Kind::kLiteral, std::string(1, e), {}};
    }
    ++pos_;
    return Node{Node::Kind::kLiteral, std::string(1, c), {}};
  }

  std::string_view s_;
  size_t pos_ = 0;
};

struct Collector {
  std::string text;
  size_t conditional_slash_at = 0;
};

std::vector<Collector> Collect(const Node& n, std::vector<Collector> in) {
  switch (n.kind) {
    case Node::Kind::kEmpty: return in;
    case Node::Kind::kLiteral:
      for (Collector& c : in) c.text += n.text;
      return in;
    case Node::Kind::kCapture:
      for (Collector& c : in) c.text += "{" + n.text + "}";
      return in;
    case Node::Kind::kConcat:
      for (const Node& sub : n.subs) in = Collect(sub, std::move(in));
      return in;
    case Node::Kind::kAlternate: {
      std::vector<Collector> out;
      for (const Node& sub : n.subs) {
        std::vector<Collector> branch = Collect(sub, in);
        out.insert(out.end(), branch.begin(), branch.end());
      }
      return out;
    }
    case Node::Kind::kQuest: {
      std::vector<Collector> with = Collect(n.subs.front(), in);
      if (n.subs.front().kind == Node::Kind::kLiteral && n.subs.front().text == "/") {
        for (Collector& c : with) c.conditional_slash_at = c.text.size();
      }
      in.insert(in.end(), with.begin(), with.end());
      return in;
    }
  }
  return in;
}

// ---- Documents ----

struct SchemaType {
  std::string base;
  std::string items;
  std::string format;
  std::string pattern;
};

SchemaType ConvertType(FieldType t) {
  switch (t) {
    case FieldType::kString:
    case FieldType::kHeader: return {"string", "", "", ""};
    case FieldType::kNameString: return {"string", "", "", R"(\w([\w-.]*\w)?)"};
    case FieldType::kLowerCaseString: return {"string", "", "lowercase", ""};
    case FieldType::kInt: return {"integer", "", "", ""};
    case FieldType::kInt64: return {"integer", "", "int64", ""};
    case FieldType::kDurationSecond:
    case FieldType::kSignedDurationSecond: return {"integer", "", "seconds", ""};
    case FieldType::kBool: return {"boolean", "", "", ""};
    case FieldType::kMap: return {"object", "", "map", ""};
    case FieldType::kKVPairs: return {"object", "", "kvpairs", ""};
    case FieldType::kSlice: return {"array", "object", "", ""};
    case FieldType::kStringSlice:
    case FieldType::kCommaStringSlice: return {"array", "string", "", ""};
  }
  return {"string", "", "unknown", ""};
}

std::string CleanString(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

json DisplayAttrsWithoutHints(const DisplayAttributes& attrs) {
  DisplayAttributes copy = attrs;
  copy.operation_prefix.clear();
  copy.operation_verb.clear();
  copy.operation_suffix.clear();
  return copy.ToJson();
}

json FieldSchemaJson(const FieldSchema& f, bool with_description) {
  SchemaType t = ConvertType(f.type);
  json s = json::object();
  s["type"] = t.base;
  if (with_description && !CleanString(f.description).empty()) s["description"] = CleanString(f.description);
  if (!t.format.empty()) s["format"] = t.format;
  if (!t.pattern.empty()) s["pattern"] = t.pattern;
  if (!f.allowed_values.empty()) s["enum"] = f.allowed_values;
  if (!f.default_value.is_null()) s["default"] = f.default_value;
  if (f.deprecated && with_description) s["deprecated"] = true;
  if (t.base == "array") s["items"] = {{"type", t.items}};
  json attrs = DisplayAttrsWithoutHints(f.display_attrs);
  if (!attrs.empty()) s["x-vault-displayAttrs"] = attrs;
  return s;
}

std::string LowerHyphenate(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += "-";
    out += p;
  }
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::vector<std::string> SplitNonWord(std::string_view s) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
      out.back().push_back(c);
    } else if (!out.back().empty()) {
      out.emplace_back();
    }
  }
  return out;
}

std::string OperationId(std::string_view path, size_t path_index, const DisplayAttributes& path_attrs,
                        Operation op, const DisplayAttributes& op_attrs, std::string_view default_prefix) {
  std::string prefix =
      !op_attrs.operation_prefix.empty() ? op_attrs.operation_prefix : path_attrs.operation_prefix;
  std::string verb = !op_attrs.operation_verb.empty() ? op_attrs.operation_verb : path_attrs.operation_verb;
  std::string suffix =
      !op_attrs.operation_suffix.empty() ? op_attrs.operation_suffix : path_attrs.operation_suffix;
  bool out_of_range = false;
  std::vector<std::string> suffixes;
  size_t start = 0;
  while (true) {
    size_t bar = suffix.find('|', start);
    suffixes.push_back(suffix.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
    if (bar == std::string::npos) break;
    start = bar + 1;
  }
  if (suffixes.size() > 1 || path_index > 0) {
    if (path_index >= suffixes.size()) {
      suffix.clear();
      out_of_range = true;
    } else {
      suffix = suffixes[path_index];
    }
  }
  bool need_prefix = prefix.empty() && verb.empty();
  bool need_verb = verb.empty();
  bool need_suffix = suffix.empty() && (verb.empty() || out_of_range);
  if (need_prefix) prefix = std::string(default_prefix);
  if (need_verb) verb = op == Operation::kUpdate ? "write" : std::string(logical::OperationName(op));
  if (need_suffix) suffix = LowerHyphenate(SplitNonWord(path));
  return LowerHyphenate({prefix, verb, suffix});
}

std::string HyphenatedToTitleCase(std::string_view in) {
  std::string out;
  bool upper = true;
  for (char c : in) {
    if (c == '-') {
      upper = true;
      continue;
    }
    out.push_back(upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    upper = false;
  }
  return out;
}

json QueryFlagParameter(const char* name, const char* description, bool required) {
  json p = {{"name", name}, {"description", description}, {"in", "query"}, {"schema", {{"type", "string"}}}};
  if (required) {
    p["required"] = true;
    p["schema"]["enum"] = json::array({"true"});
  }
  return p;
}

}  // namespace

std::optional<std::vector<std::string>> ExpandPattern(std::string_view pattern) {
  std::optional<Node> root = PatternParser(pattern).Parse();
  if (!root) return std::nullopt;
  std::vector<std::string> out;
  for (const Collector& c : Collect(*root, {Collector{}})) {
    if (c.conditional_slash_at != c.text.size()) out.push_back(c.text);
  }
  return out;
}

bool SpecialPathMatch(std::string_view path, const std::vector<std::string>& special_paths) {
  auto split = [](std::string_view s) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    while (true) {
      size_t slash = s.find('/', start);
      parts.push_back(
          s.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
      if (slash == std::string_view::npos) break;
      start = slash + 1;
    }
    return parts;
  };
  auto match_parts = [](const std::vector<std::string_view>& parts,
                        const std::vector<std::string_view>& pattern) {
    if (parts.size() < pattern.size()) return false;
    for (size_t i = 0; i < pattern.size(); ++i) {
      std::string_view pat = pattern[i];
      if (pat == "+") continue;
      if (pat == "*") return true;
      if (!pat.empty() && pat.back() == '*' &&
          parts[i].substr(0, pat.size() - 1) == pat.substr(0, pat.size() - 1)) {
        return true;
      }
      if (pat != parts[i]) return false;
    }
    return parts.size() == pattern.size();
  };
  std::vector<std::string_view> parts = split(path);
  for (const std::string& sp : special_paths) {
    std::string_view s = sp;
    if (s == path) return true;
    if (!s.empty() && s.back() == '*' && path.substr(0, s.size() - 1) == s.substr(0, s.size() - 1))
      return true;
    if (s.find('+') != std::string_view::npos && match_parts(parts, split(s))) return true;
  }
  return false;
}

json Backend::Impl::NewDocument(std::string_view vault_version) {
  return {{"openapi", "3.0.2"},
          {"info",
           {{"title", "HashiCorp Vault API"},
            {"description",
             "HTTP API of a Vault secrets engine plugin. All API routes are prefixed with `/v1/`."},
            {"version", std::string(vault_version)},
            {"license",
             {{"name", "Mozilla Public License 2.0"}, {"url", "https://www.mozilla.org/en-US/MPL/2.0"}}}}},
          {"paths", json::object()},
          {"components", {{"schemas", json::object()}}}};
}

Status Backend::Impl::DocumentPath(const CompiledPath& cp, std::string_view prefix, json& doc) const {
  const Path& p = *cp.path;
  // Vault documents such paths under their raw regex without operations; we
  // leave them out so every path key stays a valid OpenAPI template.
  std::optional<std::vector<std::string>> expanded = ExpandPattern(cp.pattern.anchored());
  if (!expanded) return Status::Ok();
  const std::vector<std::string>& oas_paths = *expanded;

  for (size_t index = 0; index < oas_paths.size(); ++index) {
    const std::string& path = oas_paths[index];
    json item = json::object();
    std::string synopsis = CleanString(p.help.synopsis);
    if (!synopsis.empty()) item["description"] = synopsis;
    if (SpecialPathMatch(path, spec.special_paths.root)) item["x-vault-sudo"] = true;
    if (SpecialPathMatch(path, spec.special_paths.unauthenticated)) item["x-vault-unauthenticated"] = true;
    json path_attrs = DisplayAttrsWithoutHints(p.display_attrs);
    if (!path_attrs.empty()) item["x-vault-displayAttrs"] = path_attrs;

    // Split the fields: captures named in the template and query fields are parameters.
    std::vector<const FieldSchema*> body_fields;
    json parameters = json::array();
    for (const FieldSchema& f : p.fields) {
      bool in_path = path.find("{" + f.name + "}") != std::string::npos;
      if (!in_path && !f.query) {
        body_fields.push_back(&f);
        continue;
      }
      json param = {{"name", f.name}, {"in", in_path && !f.query ? "path" : "query"}};
      if (!CleanString(f.description).empty()) param["description"] = CleanString(f.description);
      param["schema"] = FieldSchemaJson(f, false);
      if (in_path && !f.query) param["required"] = true;
      if (f.deprecated) param["deprecated"] = true;
      parameters.push_back(std::move(param));
    }
    std::sort(parameters.begin(), parameters.end(), [](const json& a, const json& b) {
      std::string x = a["name"].get<std::string>();
      std::string y = b["name"].get<std::string>();
      std::transform(x.begin(), x.end(), x.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      std::transform(y.begin(), y.end(), y.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      return x < y;
    });
    if (!parameters.empty()) item["parameters"] = parameters;

    const auto& ops = p.operations;
    for (const auto& [op, handler] : ops) {
      if (handler.unpublished) continue;
      if (op == Operation::kCreate) {
        item["x-vault-createSupported"] = true;
        if (ops.count(Operation::kUpdate) > 0) continue;
      }
      if (op == Operation::kList && ops.count(Operation::kRead) > 0) continue;
      const char* method = nullptr;
      switch (op) {
        case Operation::kCreate:
        case Operation::kUpdate: method = "post"; break;
        case Operation::kRead:
        case Operation::kList: method = "get"; break;
        case Operation::kDelete: method = "delete"; break;
        case Operation::kPatch: method = "patch"; break;
        default: break;
      }
      if (method == nullptr) continue;

      std::string op_id = OperationId(path, index, p.display_attrs, op, handler.display_attrs, prefix);
      json oas = json::object();
      if (!CleanString(handler.summary).empty()) oas["summary"] = CleanString(handler.summary);
      if (!CleanString(handler.description).empty()) oas["description"] = CleanString(handler.description);
      oas["operationId"] = op_id;
      if (spec.type == logical::BackendType::kLogical) oas["tags"] = json::array({"secrets"});
      if (spec.type == logical::BackendType::kCredential) oas["tags"] = json::array({"auth"});
      if (handler.deprecated) oas["deprecated"] = true;

      if ((op == Operation::kCreate || op == Operation::kUpdate || op == Operation::kPatch) &&
          !body_fields.empty()) {
        json schema = {{"type", "object"}, {"properties", json::object()}};
        json required = json::array();
        for (const FieldSchema* f : body_fields) {
          schema["properties"][f->name] = FieldSchemaJson(*f, true);
          if (f->required) required.push_back(f->name);
        }
        std::sort(required.begin(), required.end());
        if (!required.empty()) schema["required"] = required;
        std::string name = HyphenatedToTitleCase(op_id) + "Request";
        doc["components"]["schemas"][name] = schema;
        oas["requestBody"] = {
            {"required", true},
            {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/" + name}}}}}}}};
      }

      json op_params = json::array();
      if (op == Operation::kList) {
        op_params.push_back(QueryFlagParameter("list", "Must be set to `true`", true));
      } else if (op == Operation::kRead && ops.count(Operation::kList) > 0) {
        op_params.push_back(QueryFlagParameter("list", "Return a list if `true`", false));
      }
      if (!op_params.empty()) oas["parameters"] = op_params;

      json responses = json::object();
      if (handler.responses.empty()) {
        if (op == Operation::kDelete) {
          responses["204"] = {{"description", "empty body"}};
        } else {
          responses["200"] = {{"description", "OK"}};
        }
      }
      for (const ResponseDoc& r : handler.responses) {
        std::string code = std::to_string(r.status);
        if (responses.contains(code)) continue;
        json resp = {{"description", std::string(r.description)}};
        if (!r.fields.empty()) {
          json schema = {{"type", "object"}, {"properties", json::object()}};
          for (const FieldSchema& f : r.fields) schema["properties"][f.name] = FieldSchemaJson(f, true);
          std::string name = HyphenatedToTitleCase(op_id) + "Response";
          if (!doc["components"]["schemas"].contains(name)) doc["components"]["schemas"][name] = schema;
          resp["content"] = {{"application/json", {{"schema", {{"$ref", "#/components/schemas/" + name}}}}}};
        }
        responses[code] = resp;
      }
      oas["responses"] = responses;
      item[method] = oas;
    }
    doc["paths"]["/" + path] = item;
  }
  return Status::Ok();
}

json Backend::Impl::OpenAPI(std::string_view vault_version, std::string_view prefix) const {
  json doc = NewDocument(vault_version);
  for (const CompiledPath& cp : paths) {
    Status st = DocumentPath(cp, prefix, doc);
    if (!st.ok()) spec.logger.Warn("error generating OpenAPI", {{"error", st.message()}});
  }
  return doc;
}

}  // namespace taskcred::framework
