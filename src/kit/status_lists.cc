#include "kit/status_lists.h"

#include <fstream>
#include <utility>

namespace taskcred::kit {

using common::Result;
using common::Status;
using nlohmann::json;

namespace {

// Largest list token read or fetched, and largest list inflated: 8 million
// credentials per list, far above what the engine writes (65,536).
constexpr size_t kMaxListTokenBytes = 1024 * 1024;
constexpr size_t kMaxListBytes = 1024 * 1024;
// A list's ttl claim is honoured up to a day; without one it is refetched
// after this long.
constexpr std::chrono::seconds kMaxTtl{24 * 3600};
constexpr std::chrono::seconds kDefaultTtl{60};
// A failed fetch is not retried sooner than this.
constexpr std::chrono::seconds kRetryInterval{5};

constexpr std::string_view kMalformed = "malformed";
constexpr std::string_view kRevoked = "revoked";
constexpr std::string_view kUnavailable = "status_unavailable";

int64_t UnixSeconds(StatusLists::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string TrimSlashes(std::string_view s) {
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  return std::string(s);
}

// A uri the kit may fetch: <issuer>/status/<one path segment>, http(s).
bool UnderIssuer(const std::string& uri, const std::string& issuer) {
  if (issuer.rfind("https://", 0) != 0 && issuer.rfind("http://", 0) != 0) return false;
  const std::string prefix = TrimSlashes(issuer) + "/status/";
  if (uri.size() <= prefix.size() || uri.compare(0, prefix.size(), prefix) != 0) return false;
  return uri.find_first_of("/?#%\\", prefix.size()) == std::string::npos;
}

}  // namespace

Result<std::unique_ptr<StatusLists>> StatusLists::Create(Config config) {
  auto out = std::unique_ptr<StatusLists>(new StatusLists(std::move(config)));
  if (!out->config_.file.empty()) {
    std::ifstream in(out->config_.file, std::ios::binary);
    if (!in) return Status::InvalidArgument("status list file " + out->config_.file + ": cannot be read");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
    if (text.size() > kMaxListTokenBytes) {
      return Status::InvalidArgument("status list file " + out->config_.file + ": larger than 1 MiB");
    }
    if (!crypto::DecodeJwt(text, kMaxListTokenBytes).ok()) {
      return Status::InvalidArgument("status list file " + out->config_.file +
                                     ": not a status list token (the raw body of status/<list_id>)");
    }
    out->file_token_ = std::move(text);
  }
  return out;
}

int StatusLists::fetch_count() const {
  std::lock_guard lock(mu_);
  return fetches_;
}

Result<StatusLists::List> StatusLists::Parse(std::string_view token, const std::string& uri, TimePoint now,
                                             const SignatureCheck& verify) const {
  auto jwt = crypto::DecodeJwt(token, kMaxListTokenBytes);
  if (!jwt.ok()) return Status::Unavailable("the status list is not a JWT: " + jwt.status().message());
  const json& h = jwt->header;
  if (!h.contains("typ") || h["typ"] != "statuslist+jwt") {
    return Status::Unavailable("the status list's header typ is not statuslist+jwt");
  }
  if (Status sig = verify(*jwt); !sig.ok()) {
    return Status::Unavailable("the status list's signature does not verify: " + sig.message());
  }
  const json& c = jwt->claims;
  if (!c.contains("sub") || c["sub"] != uri) return Status::Unavailable("the status list's sub is not " + uri);
  const int64_t t = UnixSeconds(now);
  const int64_t leeway = config_.leeway.count();
  if (!c.contains("exp") || !c["exp"].is_number_integer()) return Status::Unavailable("the status list has no exp");
  const int64_t exp = c["exp"].get<int64_t>();
  if (t >= exp + leeway) return Status::Unavailable("the status list expired (exp " + std::to_string(exp) + ")");
  if (c.contains("iat") && c["iat"].is_number_integer() && t + leeway < c["iat"].get<int64_t>()) {
    return Status::Unavailable("the status list's iat is in the future");
  }
  std::chrono::seconds ttl = kDefaultTtl;
  if (c.contains("ttl")) {
    if (!c["ttl"].is_number_integer() || c["ttl"].get<int64_t>() <= 0) {
      return Status::Unavailable("the status list's ttl is not a positive integer");
    }
    ttl = std::min(std::chrono::seconds(c["ttl"].get<int64_t>()), kMaxTtl);
  }
  if (!c.contains("status_list")) return Status::Unavailable("the status list token has no status_list claim");
  auto bits = statuslist::Decode(c["status_list"], kMaxListBytes);
  if (!bits.ok()) return Status::Unavailable(bits.status().message());
  return List{std::move(bits).value(), now, ttl, exp};
}

Result<std::string> StatusLists::Fetch(const std::string& uri) const {
  if (config_.fetcher) return config_.fetcher(uri);
  HttpOptions http = config_.http;
  http.max_body_bytes = kMaxListTokenBytes;
  TC_ASSIGN_OR_RETURN(HttpResponse res, HttpCall("GET", uri, {{"Accept", "application/statuslist+jwt"}}, "", http));
  if (res.status != 200) return Status::Unavailable(uri + " answered HTTP " + std::to_string(res.status));
  return res.body;
}

Result<std::shared_ptr<const StatusLists::List>> StatusLists::Get(const std::string& uri, TimePoint now,
                                                                  const SignatureCheck& verify) {
  auto usable = [&](const std::shared_ptr<const List>& l) {
    return l && now < l->fetched_at + l->ttl + config_.max_stale && UnixSeconds(now) < l->exp + config_.leeway.count();
  };
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(uri);
    if (it != entries_.end() && it->second.list && now < it->second.list->fetched_at + it->second.list->ttl) {
      return it->second.list;
    }
  }
  std::lock_guard fetch_lock(fetch_mu_);
  {
    std::lock_guard lock(mu_);
    Entry& e = entries_[uri];
    if (e.list && now < e.list->fetched_at + e.list->ttl) return e.list;  // another thread fetched it
    if (e.last_attempt && now - *e.last_attempt < kRetryInterval && !e.last_error.ok()) {
      if (usable(e.list)) return e.list;
      return Status::Unavailable(e.last_error.message());
    }
    e.last_attempt = now;
    ++fetches_;
  }
  Result<List> fetched = Status::Unavailable("not fetched");
  if (auto token = Fetch(uri); token.ok()) {
    fetched = Parse(*token, uri, now, verify);
  } else {
    fetched = Status::Unavailable(token.status().message());
  }
  std::lock_guard lock(mu_);
  Entry& e = entries_[uri];
  if (fetched.ok()) {
    e.list = std::make_shared<const List>(std::move(fetched).value());
    e.last_error = Status::Ok();
    // Forget lists nobody could use any more (their hour has passed).
    for (auto it = entries_.begin(); it != entries_.end();) {
      it = it->second.list && !usable(it->second.list) ? entries_.erase(it) : std::next(it);
    }
    return entries_[uri].list;
  }
  e.last_error = fetched.status();
  if (usable(e.list)) return e.list;
  return fetched.status();
}

StatusLists::Finding StatusLists::Check(const json& claims, TimePoint now, const SignatureCheck& verify) {
  auto it = claims.find("status");
  if (it == claims.end()) return {};
  if (!it->is_object() || !it->contains("status_list") || !(*it)["status_list"].is_object()) {
    return {kMalformed, "status claim must hold a status_list object"};
  }
  const json& ref = (*it)["status_list"];
  if (!ref.contains("idx") || !ref["idx"].is_number_unsigned()) {
    return {kMalformed, "status.status_list.idx must be a non-negative integer"};
  }
  if (!ref.contains("uri") || !ref["uri"].is_string() || ref["uri"].get_ref<const std::string&>().empty()) {
    return {kMalformed, "status.status_list.uri must be a non-empty string"};
  }
  const uint64_t idx = ref["idx"].get<uint64_t>();
  const std::string uri = ref["uri"].get<std::string>();

  std::shared_ptr<const List> list;
  if (!file_token_.empty()) {
    auto parsed = Parse(file_token_, uri, now, verify);
    if (!parsed.ok()) return {kUnavailable, "status list file " + config_.file + ": " + parsed.status().message()};
    list = std::make_shared<const List>(std::move(parsed).value());
  } else {
    if (!config_.fetcher && !UnderIssuer(uri, config_.issuer)) {
      return {kUnavailable, "the credential's status list " + uri +
                                " is not under the configured issuer's http(s) URL; not fetched"};
    }
    auto got = Get(uri, now, verify);
    if (!got.ok()) return {kUnavailable, "status list " + uri + ": " + got.status().message()};
    list = *got;
  }
  if (idx >= list->bits.capacity()) return {kMalformed, "status.status_list.idx is beyond its list"};
  if (list->bits.Get(static_cast<size_t>(idx))) {
    return {kRevoked, "the status list marks this credential invalid (revoked, released or used up)"};
  }
  return {};
}

}  // namespace taskcred::kit
