#include "routes/field_rules.h"

#include "absl/strings/str_cat.h"
#include "codearts/gateway/v1/options.pb.h"
#include "routes/json_codec.h"

namespace codearts::routes {
namespace {

namespace pb = google::protobuf;

std::string Join(const std::string& prefix, absl::string_view name) {
  return prefix.empty() ? std::string(name) : absl::StrCat(prefix, ".", name);
}

}  // namespace

absl::StatusOr<std::bitset<256>> ParseCharacterSet(absl::string_view text) {
  std::bitset<256> set;
  if (text.empty()) return absl::InvalidArgumentError("the character set is empty");
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto first = static_cast<unsigned char>(text[i]);
    if (i + 2 < text.size() && text[i + 1] == '-') {
      const auto last = static_cast<unsigned char>(text[i + 2]);
      if (last < first) {
        return absl::InvalidArgumentError(
            absl::StrCat("the range ", text.substr(i, 3), " in the character set is backwards"));
      }
      for (unsigned c = first; c <= last; ++c) set.set(c);
      i += 2;
      continue;
    }
    set.set(first);
  }
  return set;
}

absl::StatusOr<MessageRules> MessageRules::Compile(const pb::Descriptor& descriptor) {
  std::set<const pb::Descriptor*> compiling;
  return CompileRecursive(descriptor, compiling);
}

// `compiling` holds the types on the way down: a recursive type's rules apply at its first
// level only.
absl::StatusOr<MessageRules> MessageRules::CompileRecursive(
    const pb::Descriptor& descriptor, std::set<const pb::Descriptor*>& compiling) {
  compiling.insert(&descriptor);
  std::vector<FieldCheck> checks;
  for (int i = 0; i < descriptor.field_count(); ++i) {
    const pb::FieldDescriptor* field = descriptor.field(i);
    const auto& rules = field->options().GetExtension(gateway::v1::field);
    FieldCheck check;
    check.field = field;
    check.required = rules.required();
    check.max_length = rules.max_length();
    const auto fail = [&](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat("field ", field->full_name(), ": ", what));
    };
    if (!rules.allowed_characters().empty()) {
      if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING) {
        return fail("allowed_characters applies to strings only");
      }
      absl::StatusOr<std::bitset<256>> set = ParseCharacterSet(rules.allowed_characters());
      if (!set.ok()) return fail(set.status().message());
      check.allowed = *set;
      check.has_allowed = true;
      check.allowed_text = rules.allowed_characters();
    }
    if (!rules.pattern().empty()) {
      if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING) {
        return fail("pattern applies to strings only");
      }
      auto pattern = std::make_shared<re2::RE2>(rules.pattern(), re2::RE2::Quiet);
      if (!pattern->ok()) return fail(absl::StrCat("bad pattern: ", pattern->error()));
      check.pattern = std::move(pattern);
    }
    if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE && !field->is_map() &&
        compiling.count(field->message_type()) == 0) {
      absl::StatusOr<MessageRules> nested = CompileRecursive(*field->message_type(), compiling);
      if (!nested.ok()) return nested.status();
      if (!nested->empty()) check.nested = std::make_shared<MessageRules>(*std::move(nested));
    }
    if (check.required || check.max_length > 0 || check.has_allowed || check.pattern ||
        check.nested) {
      checks.push_back(std::move(check));
    }
  }
  compiling.erase(&descriptor);
  MessageRules compiled;
  compiled.fields_ = std::move(checks);
  return compiled;
}

absl::Status MessageRules::CheckString(const FieldCheck& check, const std::string& path,
                                       absl::string_view value, bool check_length) {
  if (check_length && check.max_length > 0 && value.size() > check.max_length) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is ", value.size(),
                                                   " characters long; at most ", check.max_length,
                                                   " are allowed"));
  }
  if (check.has_allowed) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (!check.allowed.test(static_cast<unsigned char>(value[i]))) {
        return absl::InvalidArgumentError(absl::StrCat(path, " has a character outside [",
                                                       check.allowed_text, "] at position ", i));
      }
    }
  }
  if (check.pattern &&
      !re2::RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *check.pattern)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " does not match the pattern ", check.pattern->pattern()));
  }
  return absl::OkStatus();
}

absl::Status MessageRules::Validate(const pb::Message& message) const {
  return ValidateWithPrefix(message, "");
}

absl::Status MessageRules::ValidateWithPrefix(const pb::Message& message,
                                              const std::string& prefix) const {
  const pb::Reflection* r = message.GetReflection();
  for (const FieldCheck& check : fields_) {
    const pb::FieldDescriptor* field = check.field;
    const std::string path = Join(prefix, field->name());
    if (!IsFieldSet(message, field)) {
      if (check.required) return absl::InvalidArgumentError(absl::StrCat(path, " is required"));
      continue;
    }
    const bool is_string = field->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING;
    if (field->is_repeated()) {
      const int size = r->FieldSize(message, field);
      if (check.max_length > 0 && static_cast<std::uint32_t>(size) > check.max_length) {
        return absl::InvalidArgumentError(absl::StrCat(path, " has ", size, " elements; at most ",
                                                       check.max_length, " are allowed"));
      }
      for (int i = 0; i < size; ++i) {
        const std::string element = absl::StrCat(path, "[", i, "]");
        if (is_string) {
          std::string scratch;
          const std::string& value = r->GetRepeatedStringReference(message, field, i, &scratch);
          if (absl::Status status = CheckString(check, element, value, false); !status.ok()) {
            return status;
          }
        } else if (check.nested) {
          if (absl::Status status = check.nested->ValidateWithPrefix(
                  r->GetRepeatedMessage(message, field, i), element);
              !status.ok()) {
            return status;
          }
        }
      }
      continue;
    }
    if (is_string) {
      std::string scratch;
      if (absl::Status status =
              CheckString(check, path, r->GetStringReference(message, field, &scratch), true);
          !status.ok()) {
        return status;
      }
    } else if (check.nested) {
      if (absl::Status status =
              check.nested->ValidateWithPrefix(r->GetMessage(message, field), path);
          !status.ok()) {
        return status;
      }
    }
  }
  return absl::OkStatus();
}

std::string MessageRules::MissingRequired(const pb::Message& message) const {
  std::string missing;
  CollectMissing(message, "", &missing);
  return missing;
}

void MessageRules::CollectMissing(const pb::Message& message, const std::string& prefix,
                                  std::string* out) const {
  const pb::Reflection* r = message.GetReflection();
  for (const FieldCheck& check : fields_) {
    const std::string path = Join(prefix, check.field->name());
    if (!IsFieldSet(message, check.field)) {
      if (check.required) absl::StrAppend(out, out->empty() ? "" : ", ", path);
      continue;
    }
    if (!check.nested) continue;
    if (check.field->is_repeated()) {
      for (int i = 0; i < r->FieldSize(message, check.field); ++i) {
        check.nested->CollectMissing(r->GetRepeatedMessage(message, check.field, i),
                                     absl::StrCat(path, "[", i, "]"), out);
      }
    } else {
      check.nested->CollectMissing(r->GetMessage(message, check.field), path, out);
    }
  }
}

}  // namespace codearts::routes
