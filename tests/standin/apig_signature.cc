#include "standin/apig_signature.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace codearts::testing {
namespace {

constexpr char kUpperHex[] = "0123456789ABCDEF";
constexpr char kLowerHex[] = "0123456789abcdef";

std::string ToHex(const unsigned char* data, std::size_t size) {
  std::string hex;
  hex.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    hex += kLowerHex[data[i] / 16];
    hex += kLowerHex[data[i] % 16];
  }
  return hex;
}

std::string Sha256Hex(std::string_view data) {
  std::array<unsigned char, 32> digest{};
  std::size_t size = 0;
  if (EVP_Q_digest(nullptr, "SHA256", nullptr, data.data(), data.size(), digest.data(), &size) !=
      1) {
    return "";
  }
  return ToHex(digest.data(), size);
}

int FromHex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::optional<std::string> Unescape(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = FromHex(text[i + 1]);
    const int low = FromHex(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

// RFC 3986 unreserved characters stay; every other byte becomes %XX (upper case).
std::string Escape(std::string_view text) {
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kUpperHex[c >> 4];
      out += kUpperHex[c & 15];
    }
  }
  return out;
}

std::string Trim(std::string_view text) {
  std::size_t begin = 0;
  std::size_t end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin])) != 0) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1])) != 0) --end;
  return std::string(text.substr(begin, end - begin));
}

}  // namespace

std::optional<std::string> ApigCanonicalRequest(
    std::string_view method, std::string_view target,
    const std::vector<std::pair<std::string, std::string>>& signed_headers, std::string_view body) {
  const std::size_t question = target.find('?');
  const std::string_view raw_path = target.substr(0, question);
  const std::string_view raw_query =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);

  // The URI: decoded, each segment escaped again, always ending in '/'.
  const std::optional<std::string> path = Unescape(raw_path);
  if (!path) return std::nullopt;
  std::string uri;
  std::size_t start = 0;
  while (start <= path->size()) {
    std::size_t slash = path->find('/', start);
    if (slash == std::string::npos) slash = path->size();
    uri += Escape(std::string_view(*path).substr(start, slash - start));
    if (slash < path->size()) uri += '/';
    start = slash + 1;
  }
  if (uri.empty() || uri.back() != '/') uri += '/';

  // The query: each pair decoded, escaped again, sorted by key then value.
  std::vector<std::pair<std::string, std::string>> pairs;
  std::size_t at = 0;
  while (at < raw_query.size()) {
    std::size_t amp = raw_query.find('&', at);
    if (amp == std::string_view::npos) amp = raw_query.size();
    const std::string_view pair = raw_query.substr(at, amp - at);
    at = amp + 1;
    if (pair.empty()) continue;
    const std::size_t equals = pair.find('=');
    const std::optional<std::string> key = Unescape(pair.substr(0, equals));
    const std::optional<std::string> value =
        Unescape(equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1));
    if (!key || !value) return std::nullopt;
    pairs.emplace_back(Escape(*key), Escape(*value));
  }
  std::sort(pairs.begin(), pairs.end());
  std::string query;
  for (const auto& [key, value] : pairs) {
    if (!query.empty()) query += '&';
    query.append(key).append("=").append(value);
  }

  // The headers: names lower-cased, values trimmed, sorted by name.
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : signed_headers) {
    std::string lower;
    for (const char c : name)
      lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    headers.emplace_back(std::move(lower), Trim(value));
  }
  std::sort(headers.begin(), headers.end());
  std::string canonical_headers;
  std::string names;
  for (const auto& [name, value] : headers) {
    canonical_headers.append(name).append(":").append(value).append("\n");
    names += (names.empty() ? "" : ";") + name;
  }

  std::string canonical(method);
  for (char& c : canonical) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  canonical +=
      "\n" + uri + "\n" + query + "\n" + canonical_headers + "\n" + names + "\n" + Sha256Hex(body);
  return canonical;
}

std::string ApigSignature(std::string_view secret_key, std::string_view sdk_date,
                          std::string_view canonical_request) {
  const std::string string_to_sign =
      "SDK-HMAC-SHA256\n" + std::string(sdk_date) + "\n" + Sha256Hex(canonical_request);
  std::array<unsigned char, 64> mac{};
  std::size_t size = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret_key.data(), secret_key.size(),
                reinterpret_cast<const unsigned char*>(string_to_sign.data()),
                string_to_sign.size(), mac.data(), mac.size(), &size) == nullptr) {
    return "";
  }
  return ToHex(mac.data(), size);
}

}  // namespace codearts::testing
