#include "standin/pki.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include "absl/strings/str_cat.h"

namespace codearts::testing {
namespace {

template <auto kFree>
struct OpenSslDeleter {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using KeyContextPtr = std::unique_ptr<EVP_PKEY_CTX, OpenSslDeleter<EVP_PKEY_CTX_free>>;
using CertPtr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>>;

constexpr char kServerSans[] = "DNS:localhost,IP:127.0.0.1,IP:::1";
constexpr long kSecondsPerDay = 24L * 60 * 60;

// Test code may throw; the message carries OpenSSL's own explanation, which is what one needs
// when a distribution ships an OpenSSL configuration that forbids something.
[[noreturn]] void ThrowOpenSslError(const std::string& what) {
  std::string reasons;
  while (const unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    absl::StrAppend(&reasons, reasons.empty() ? "" : "; ", buffer);
  }
  throw std::runtime_error(absl::StrCat("test PKI: ", what, " failed: ", reasons));
}

void Check(int result, const char* what) {
  if (result != 1) ThrowOpenSslError(what);
}

KeyPtr GenerateKey() {
  KeyContextPtr context(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (context == nullptr) ThrowOpenSslError("EVP_PKEY_CTX_new_from_name(EC)");
  Check(EVP_PKEY_keygen_init(context.get()), "EVP_PKEY_keygen_init");
  Check(EVP_PKEY_CTX_set_group_name(context.get(), "P-256"), "EVP_PKEY_CTX_set_group_name");
  EVP_PKEY* key = nullptr;
  Check(EVP_PKEY_generate(context.get(), &key), "EVP_PKEY_generate");
  return KeyPtr(key);
}

struct CertSpec {
  std::string common_name;
  bool is_ca = false;
  bool is_client = false;
  std::string subject_alt_names;  // OpenSSL config syntax; empty for none
  long not_before_offset_seconds = -kSecondsPerDay;
  long not_after_offset_seconds = 30 * kSecondsPerDay;
};

void AddExtension(X509* cert, X509V3_CTX& context, int nid, const std::string& value) {
  ExtensionPtr extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str()));
  if (extension == nullptr) ThrowOpenSslError(absl::StrCat("extension ", OBJ_nid2sn(nid)));
  Check(X509_add_ext(cert, extension.get(), -1), "X509_add_ext");
}

// Issues a certificate for `key`. With `issuer` null the certificate is self-signed.
CertPtr IssueCertificate(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  CertPtr cert(X509_new());
  if (cert == nullptr) ThrowOpenSslError("X509_new");
  Check(X509_set_version(cert.get(), X509_VERSION_3), "X509_set_version");

  // Random 64-bit serials keep certificates from different runs distinct, which matters to
  // clients that cache session state by issuer and serial.
  BignumPtr serial(BN_new());
  if (serial == nullptr) ThrowOpenSslError("BN_new");
  Check(BN_rand(serial.get(), 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY), "BN_rand");
  if (BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    ThrowOpenSslError("BN_to_ASN1_INTEGER");
  }

  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before_offset_seconds) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after_offset_seconds) == nullptr) {
    ThrowOpenSslError("X509_gmtime_adj");
  }

  X509_NAME* subject = X509_get_subject_name(cert.get());
  Check(X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("CodeArts stand-in"), -1,
                                   -1, 0),
        "X509_NAME_add_entry_by_txt(O)");
  Check(X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(spec.common_name.c_str()),
                                   -1, -1, 0),
        "X509_NAME_add_entry_by_txt(CN)");
  X509* const signer = issuer != nullptr ? issuer : cert.get();
  EVP_PKEY* const signer_key = issuer != nullptr ? issuer_key : key;
  Check(X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)), "X509_set_issuer_name");
  Check(X509_set_pubkey(cert.get(), key), "X509_set_pubkey");

  X509V3_CTX context;
  X509V3_set_ctx(&context, signer, cert.get(), nullptr, nullptr, 0);
  if (spec.is_ca) {
    AddExtension(cert.get(), context, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    AddExtension(cert.get(), context, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExtension(cert.get(), context, NID_basic_constraints, "critical,CA:FALSE");
    AddExtension(cert.get(), context, NID_key_usage, "critical,digitalSignature");
    AddExtension(cert.get(), context, NID_ext_key_usage,
                 spec.is_client ? "clientAuth" : "serverAuth");
  }
  AddExtension(cert.get(), context, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) {
    AddExtension(cert.get(), context, NID_authority_key_identifier, "keyid:always");
  }
  if (!spec.subject_alt_names.empty()) {
    AddExtension(cert.get(), context, NID_subject_alt_name, spec.subject_alt_names);
  }

  if (X509_sign(cert.get(), signer_key, EVP_sha256()) <= 0) ThrowOpenSslError("X509_sign");
  return cert;
}

std::string DrainBio(BIO* bio) {
  std::string out(BIO_ctrl_pending(bio), '\0');
  if (!out.empty() &&
      BIO_read(bio, out.data(), static_cast<int>(out.size())) != static_cast<int>(out.size())) {
    ThrowOpenSslError("BIO_read");
  }
  return out;
}

std::string CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr) ThrowOpenSslError("BIO_new");
  Check(PEM_write_bio_X509(bio.get(), cert), "PEM_write_bio_X509");
  return DrainBio(bio.get());
}

std::string KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr) ThrowOpenSslError("BIO_new");
  Check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
        "PEM_write_bio_PrivateKey");
  return DrainBio(bio.get());
}

}  // namespace

TestPki TestPki::Generate() {
  TestPki pki;
  const KeyPtr ca_key = GenerateKey();
  CertSpec ca_spec;
  ca_spec.common_name = "CodeArts stand-in test CA";
  ca_spec.is_ca = true;
  const CertPtr ca = IssueCertificate(ca_spec, ca_key.get(), nullptr, nullptr);
  pki.ca_cert_pem = CertToPem(ca.get());

  const auto issue = [&](const CertSpec& spec, bool self_signed, std::string& cert_pem,
                         std::string& key_pem) {
    const KeyPtr key = GenerateKey();
    const CertPtr cert = self_signed ? IssueCertificate(spec, key.get(), nullptr, nullptr)
                                     : IssueCertificate(spec, key.get(), ca.get(), ca_key.get());
    cert_pem = CertToPem(cert.get());
    key_pem = KeyToPem(key.get());
  };
  CertSpec server_spec;
  server_spec.common_name = "localhost";
  server_spec.subject_alt_names = kServerSans;
  issue(server_spec, /*self_signed=*/false, pki.server_cert_pem, pki.server_key_pem);
  issue(server_spec, /*self_signed=*/true, pki.untrusted_cert_pem, pki.untrusted_key_pem);

  CertSpec expired_spec = server_spec;
  expired_spec.not_before_offset_seconds = -3 * kSecondsPerDay;
  expired_spec.not_after_offset_seconds = -kSecondsPerDay;
  issue(expired_spec, /*self_signed=*/false, pki.expired_cert_pem, pki.expired_key_pem);

  CertSpec wrong_host_spec;
  wrong_host_spec.common_name = "wrong.example.invalid";
  wrong_host_spec.subject_alt_names = "DNS:wrong.example.invalid";
  issue(wrong_host_spec, /*self_signed=*/false, pki.wrong_host_cert_pem, pki.wrong_host_key_pem);

  CertSpec client_spec;
  client_spec.common_name = "example-app";
  client_spec.is_client = true;
  issue(client_spec, /*self_signed=*/false, pki.client_cert_pem, pki.client_key_pem);
  return pki;
}

std::string WriteTempFile(std::string_view name, std::string_view contents) {
  if (name.empty() || name.find('/') != std::string_view::npos) {
    throw std::invalid_argument(
        absl::StrCat("WriteTempFile: bad file name \"", std::string(name), "\""));
  }
  std::string dir_template =
      (std::filesystem::temp_directory_path() / "codearts-standin-XXXXXX").string();
  if (mkdtemp(dir_template.data()) == nullptr) {
    throw std::runtime_error(
        absl::StrCat("WriteTempFile: mkdtemp(", dir_template, "): ", std::strerror(errno)));
  }
  const std::filesystem::path path = std::filesystem::path(dir_template) / std::string(name);
  std::ofstream out(path, std::ios::binary);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.close();
  if (!out) throw std::runtime_error(absl::StrCat("WriteTempFile: cannot write ", path.string()));
  return path.string();
}

}  // namespace codearts::testing
