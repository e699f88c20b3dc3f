#include "auth/signer.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace codearts::auth {
namespace {

constexpr std::string_view kHexDigitsLower = "0123456789abcdef";
constexpr std::string_view kHexDigitsUpper = "0123456789ABCDEF";

// "00" ... "ff": two digits per byte, copied at once.
constexpr std::array<char, 512> kHexPairsLower = [] {
  std::array<char, 512> pairs{};
  for (std::size_t b = 0; b < 256; ++b) {
    pairs[2 * b] = kHexDigitsLower[b >> 4];
    pairs[2 * b + 1] = kHexDigitsLower[b & 0x0f];
  }
  return pairs;
}();

std::string HexLower(const unsigned char* data, std::size_t size) {
  std::string out;
  out.resize(size * 2);
  for (std::size_t i = 0; i < size; ++i)
    std::memcpy(&out[2 * i], &kHexPairsLower[2 * static_cast<std::size_t>(data[i])], 2);
  return out;
}

// RFC 3986's unreserved characters: ALPHA, DIGIT, '-', '.', '_', '~'.
constexpr std::array<bool, 256> kUnreserved = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[static_cast<std::size_t>(c)] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                         (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                                         c == '.' || c == '~';
  }
  return table;
}();

bool IsUnreserved(unsigned char c) { return kUnreserved[c]; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<std::string> PercentDecode(std::string_view encoded) {
  std::string out;
  out.reserve(encoded.size());
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] != '%') {
      out.push_back(encoded[i]);
      continue;
    }
    if (i + 2 >= encoded.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("truncated percent-escape in path at offset ", i));
    }
    const int high = HexValue(encoded[i + 1]);
    const int low = HexValue(encoded[i + 2]);
    if (high < 0 || low < 0) {
      return absl::InvalidArgumentError(absl::StrCat("bad percent-escape in path at offset ", i));
    }
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

// Runs of unreserved characters (ids, names: most of a path or query) are appended whole.
void AppendPercentEncoded(std::string* out, std::string_view raw) {
  std::size_t i = 0;
  while (i < raw.size()) {
    std::size_t run = i;
    while (run < raw.size() && IsUnreserved(static_cast<unsigned char>(raw[run]))) ++run;
    out->append(raw.data() + i, run - i);
    if (run == raw.size()) break;
    const auto c = static_cast<unsigned char>(raw[run]);
    const char escape[3] = {'%', kHexDigitsUpper[c >> 4], kHexDigitsUpper[c & 0x0f]};
    out->append(escape, 3);
    i = run + 1;
  }
}

// The official SDKs decode the path, re-encode each segment and make sure the result ends in
// '/', so "/v3/x/stop" signs as "/v3/x/stop/" and "/" stays "/".
absl::StatusOr<std::string> CanonicalUri(std::string_view path) {
  std::string decoded_storage;
  std::string_view decoded = path;
  if (path.find('%') != std::string_view::npos) {
    absl::StatusOr<std::string> decoded_path = PercentDecode(path);
    if (!decoded_path.ok()) return decoded_path.status();
    decoded_storage = *std::move(decoded_path);
    decoded = decoded_storage;
  }
  std::string out;
  out.reserve(decoded.size() + decoded.size() / 4 + 2);
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = decoded.find('/', start);
    AppendPercentEncoded(
        &out, decoded.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    out.push_back('/');
    start = slash + 1;
  }
  if (out.empty() || out.back() != '/') out.push_back('/');
  return out;
}

}  // namespace

std::string PercentEncode(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  AppendPercentEncoded(&out, raw);
  return out;
}

std::string CanonicalQueryString(std::vector<NameValue> query) {
  for (auto& [key, value] : query) {
    key = PercentEncode(key);
    value = PercentEncode(value);
  }
  std::sort(query.begin(), query.end());
  std::string out;
  for (const auto& [key, value] : query) {
    if (!out.empty()) out.push_back('&');
    absl::StrAppend(&out, key, "=", value);
  }
  return out;
}

// OpenSSL 3 looks an algorithm up by name on every implicit use (EVP_sha256() in EVP_Digest,
// the one-shot HMAC()): several microseconds per signature, under a lock. The algorithms are
// fetched once, and each thread keeps an HMAC context keyed with the last secret key it used.
const EVP_MD* Sha256() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  return md;
}

class HmacSha256 {
 public:
  HmacSha256() : context_(EVP_MAC_CTX_new(Mac())) {}
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;
  ~HmacSha256() {
    EVP_MAC_CTX_free(context_);
    std::fill(key_.begin(), key_.end(), '\0');
  }

  /// The MAC of `data` under `key`, or false if OpenSSL failed.
  bool Compute(std::string_view key, std::string_view data, unsigned char* out, std::size_t* size) {
    if (context_ == nullptr) return false;
    bool initialised = false;
    if (!keyed_ || key != key_) {
      std::array<char, 9> digest_name{"SHA2-256"};
      const std::array<OSSL_PARAM, 2> params{
          OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name.data(), 0),
          OSSL_PARAM_construct_end()};
      initialised = EVP_MAC_init(context_, reinterpret_cast<const unsigned char*>(key.data()),
                                 key.size(), params.data()) == 1;
      std::fill(key_.begin(), key_.end(), '\0');
      key_.assign(initialised ? key : std::string_view());
      keyed_ = initialised;
    } else {
      initialised = EVP_MAC_init(context_, nullptr, 0, nullptr) == 1;  // same key again
    }
    return initialised &&
           EVP_MAC_update(context_, reinterpret_cast<const unsigned char*>(data.data()),
                          data.size()) == 1 &&
           EVP_MAC_final(context_, out, size, EVP_MAX_MD_SIZE) == 1;
  }

 private:
  static EVP_MAC* Mac() {
    static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    return mac;
  }

  EVP_MAC_CTX* context_;
  std::string key_;  // what context_ is keyed with, when keyed_
  bool keyed_ = false;
};

std::string HexSha256(std::string_view data) {
  // Most calls have no body: its hash is a constant.
  constexpr std::string_view kEmptySha256 =
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  if (data.empty()) return std::string(kEmptySha256);
  // One digest context per thread, initialised again for each hash: creating and freeing one per
  // hash cost more than hashing a request's few hundred bytes.
  thread_local const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(
      EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (context == nullptr || EVP_DigestInit_ex2(context.get(), Sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(context.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(context.get(), digest.data(), &size) != 1) {
    return {};
  }
  return HexLower(digest.data(), size);
}

std::string HexHmacSha256(std::string_view key, std::string_view data) {
  thread_local HmacSha256 hmac;
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  std::size_t size = 0;
  if (!hmac.Compute(key, data, mac.data(), &size)) return {};
  return HexLower(mac.data(), size);
}

absl::StatusOr<CanonicalTarget> MakeCanonicalTarget(std::string_view path,
                                                    std::string canonical_query) {
  absl::StatusOr<std::string> uri = CanonicalUri(path);
  if (!uri.ok()) return uri.status();
  return CanonicalTarget{*std::move(uri), std::move(canonical_query)};
}

absl::StatusOr<SignatureParts> SignCanonicalRequest(
    std::string_view method, const CanonicalTarget& target, absl::Span<const HeaderView> headers,
    std::string_view body, std::string_view access_key, std::string_view secret_key) {
  // Names lower-cased, values trimmed, sorted by name then value (as the SDKs sort).
  struct Canonical {
    std::string name;
    std::string_view value;
  };
  std::vector<Canonical> canonical;
  canonical.reserve(headers.size());
  std::string_view sdk_date;
  for (const auto& [name, value] : headers) {
    const absl::string_view trimmed =
        absl::StripAsciiWhitespace(absl::string_view(value.data(), value.size()));
    Canonical& header = canonical.emplace_back(
        Canonical{absl::AsciiStrToLower(absl::string_view(name.data(), name.size())),
                  std::string_view(trimmed.data(), trimmed.size())});
    if (header.name == "x-sdk-date") sdk_date = header.value;
  }
  if (sdk_date.empty()) {
    return absl::InvalidArgumentError("X-Sdk-Date header is required for SDK-HMAC-SHA256");
  }
  std::sort(canonical.begin(), canonical.end(), [](const Canonical& a, const Canonical& b) {
    return a.name != b.name ? a.name < b.name : a.value < b.value;
  });

  SignatureParts parts;
  const std::string body_hash = HexSha256(body);
  std::string& request = parts.canonical_request;
  request.reserve(256 + target.uri.size() + target.query.size());
  request.append(absl::AsciiStrToUpper(absl::string_view(method.data(), method.size())));
  request.push_back('\n');
  request.append(target.uri);
  request.push_back('\n');
  request.append(target.query);
  request.push_back('\n');
  for (const Canonical& header : canonical) {
    request.append(header.name);
    request.push_back(':');
    request.append(header.value);
    request.push_back('\n');
    if (!parts.signed_headers.empty()) parts.signed_headers.push_back(';');
    parts.signed_headers.append(header.name);
  }
  request.push_back('\n');
  request.append(parts.signed_headers);
  request.push_back('\n');
  request.append(body_hash);

  const std::string request_hash = HexSha256(request);
  parts.string_to_sign =
      absl::StrCat(kSdkHmacSha256, "\n", absl::string_view(sdk_date.data(), sdk_date.size()), "\n",
                   request_hash);
  parts.signature = HexHmacSha256(secret_key, parts.string_to_sign);
  if (body_hash.empty() || request_hash.empty() || parts.signature.empty()) {
    return absl::InternalError("SHA-256 or HMAC-SHA256 failed in OpenSSL");
  }
  parts.authorization = absl::StrCat(
      kSdkHmacSha256, " Access=", absl::string_view(access_key.data(), access_key.size()),
      ", SignedHeaders=", parts.signed_headers, ", Signature=", parts.signature);
  return parts;
}

absl::StatusOr<SignatureParts> SignSdkHmacSha256(const SigningRequest& request,
                                                 std::string_view access_key,
                                                 std::string_view secret_key) {
  absl::StatusOr<CanonicalTarget> target =
      MakeCanonicalTarget(request.path, CanonicalQueryString(request.query));
  if (!target.ok()) return target.status();
  const std::vector<HeaderView> headers(request.headers.begin(), request.headers.end());
  return SignCanonicalRequest(request.method, *target, headers, request.body, access_key,
                              secret_key);
}

}  // namespace codearts::auth
