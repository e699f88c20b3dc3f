#ifndef CODEARTS_GATEWAY_ROUTES_FIELD_RULES_H_
#define CODEARTS_GATEWAY_ROUTES_FIELD_RULES_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <re2/re2.h>

#include <bitset>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace codearts::routes {

/// The `(codearts.gateway.v1.field)` rules of one message type and of the message types it
/// holds, compiled once at start: character sets as 256-bit tables, patterns as RE2 programs.
class MessageRules {
 public:
  /// Compiles the rules declared on `descriptor`'s fields (recursively). Fails naming the field
  /// whose rules cannot be compiled (a bad pattern or character set).
  static absl::StatusOr<MessageRules> Compile(const google::protobuf::Descriptor& descriptor);

  MessageRules() = default;
  MessageRules(MessageRules&&) = default;
  MessageRules& operator=(MessageRules&&) = default;

  /// Checks a request before anything is sent upstream; the INVALID_ARGUMENT names the field.
  absl::Status Validate(const google::protobuf::Message& message) const;

  /// The `required` fields missing from a response, as "a, b.c"; empty when none is.
  std::string MissingRequired(const google::protobuf::Message& message) const;

  bool empty() const { return fields_.empty(); }

 private:
  struct FieldCheck {
    const google::protobuf::FieldDescriptor* field = nullptr;
    bool required = false;
    std::uint32_t max_length = 0;
    std::string allowed_text;  // as declared, for the message
    std::bitset<256> allowed;
    bool has_allowed = false;
    std::shared_ptr<const re2::RE2> pattern;
    // For a message-typed field whose type has rules of its own.
    std::shared_ptr<const MessageRules> nested;
  };

  static absl::StatusOr<MessageRules> CompileRecursive(
      const google::protobuf::Descriptor& descriptor,
      std::set<const google::protobuf::Descriptor*>& compiling);
  static absl::Status CheckString(const FieldCheck& check, const std::string& path,
                                  absl::string_view value, bool check_length);
  absl::Status ValidateWithPrefix(const google::protobuf::Message& message,
                                  const std::string& prefix) const;
  void CollectMissing(const google::protobuf::Message& message, const std::string& prefix,
                      std::string* out) const;

  std::vector<FieldCheck> fields_;
};

/// Parses a character set written as the inside of a regular-expression bracket ("A-Za-z0-9_-":
/// ranges and single characters; a '-' first or last is literal).
absl::StatusOr<std::bitset<256>> ParseCharacterSet(absl::string_view text);

}  // namespace codearts::routes

#endif  // CODEARTS_GATEWAY_ROUTES_FIELD_RULES_H_
