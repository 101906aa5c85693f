#include "statuslist/status_list.h"

#include <zlib.h>

#include <limits>
#include <vector>

#include "crypto/encoding.h"

namespace taskcred::statuslist {

using common::Result;
using common::Status;

void BitList::Set(size_t idx, bool invalid) {
  if (idx >= capacity()) return;
  auto byte = static_cast<uint8_t>(bytes_[idx / 8]);
  const auto mask = static_cast<uint8_t>(1U << (idx % 8));
  byte = invalid ? static_cast<uint8_t>(byte | mask) : static_cast<uint8_t>(byte & ~mask);
  bytes_[idx / 8] = static_cast<char>(byte);
}

namespace {

std::string Deflate(const std::string& in) {
  uLongf size = compressBound(static_cast<uLong>(in.size()));
  std::string out(size, '\0');
  // Z_OK is the only outcome for a buffer of compressBound's size.
  compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(in.data()),
            static_cast<uLong>(in.size()), Z_DEFAULT_COMPRESSION);
  out.resize(size);
  return out;
}

// A whole ZLIB stream, inflated to at most `max_bytes`.
Result<std::string> Inflate(std::string_view in, size_t max_bytes) {
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) return Status::Internal("status list: zlib could not start");
  std::string out;
  std::vector<unsigned char> chunk(64 * 1024);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = chunk.data();
    zs.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    const size_t produced = chunk.size() - zs.avail_out;
    if (out.size() + produced > max_bytes) {
      inflateEnd(&zs);
      return Status::InvalidArgument("status_list.lst: inflates to more than " + std::to_string(max_bytes) +
                                     " bytes");
    }
    out.append(reinterpret_cast<const char*>(chunk.data()), produced);
    // No progress with input left means a truncated or stalled stream.
    if (rc == Z_OK && produced == 0 && zs.avail_in == 0) rc = Z_BUF_ERROR;
  }
  const bool whole = rc == Z_STREAM_END && zs.avail_in == 0;
  inflateEnd(&zs);
  if (!whole) return Status::InvalidArgument("status_list.lst: not one complete ZLIB stream");
  return out;
}

}  // namespace

nlohmann::json Encode(const BitList& list) {
  return {{"bits", 1}, {"lst", crypto::Base64UrlEncode(Deflate(list.bytes()))}};
}

Result<BitList> Decode(const nlohmann::json& claim, size_t max_bytes) {
  if (!claim.is_object()) return Status::InvalidArgument("status_list: must be an object");
  auto bits = claim.find("bits");
  if (bits == claim.end() || !bits->is_number_integer() || bits->get<int64_t>() != 1) {
    return Status::InvalidArgument("status_list.bits: must be 1 (one bit per credential)");
  }
  auto lst = claim.find("lst");
  if (lst == claim.end() || !lst->is_string() || lst->get_ref<const std::string&>().empty()) {
    return Status::InvalidArgument("status_list.lst: must be a non-empty string");
  }
  // Deflate grows incompressible data by 5 bytes per stored block of up to
  // 64 KiB (plus 6 for the ZLIB wrapper), so a stream much longer than
  // max_bytes cannot inflate to a list within it: refused before decoding.
  const std::string& text = lst->get_ref<const std::string&>();
  if (text.size() / 4 * 3 > max_bytes + max_bytes / 1024 + 64) {
    return Status::InvalidArgument("status_list.lst: longer than any list of " + std::to_string(max_bytes) +
                                   " bytes");
  }
  auto compressed = crypto::Base64UrlDecode(text);
  if (!compressed.ok()) return Status::InvalidArgument("status_list.lst: not unpadded base64url");
  TC_ASSIGN_OR_RETURN(std::string bytes, Inflate(*compressed, max_bytes));
  return BitList::FromBytes(std::move(bytes));
}

}  // namespace taskcred::statuslist
