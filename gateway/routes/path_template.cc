#include "routes/path_template.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "auth/signer.h"

namespace codearts::routes {
namespace {

bool IsLiteralChar(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

bool IsIdentifier(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (const char ch : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(ch)) && ch != '_') return false;
  }
  return true;
}

// A recursive-descent parser over the template text, one position at a time.
class Parser {
 public:
  explicit Parser(absl::string_view text) : text_(text) {}

  absl::StatusOr<PathTemplate> Parse() {
    PathTemplate out;
    out.text = std::string(text_);
    if (text_.empty() || text_[0] != '/') return Error("it must start with '/'");
    std::string literal;
    while (at_ < text_.size()) {
      const char ch = text_[at_];
      if (ch == '/') {
        literal.push_back(ch);
        ++at_;
        if (at_ == text_.size() || text_[at_] == '/' || text_[at_] == ':') {
          return Error("a segment is empty");
        }
        continue;
      }
      if (ch == '{') {
        if (!literal.empty()) out.parts.push_back({std::move(literal), "", {}});
        literal.clear();
        absl::StatusOr<PathTemplate::Part> variable = ParseVariable();
        if (!variable.ok()) return variable.status();
        out.parts.push_back(*std::move(variable));
        continue;
      }
      if (ch == ':') {
        // The verb: the rest is one literal.
        const absl::string_view verb = text_.substr(at_ + 1);
        if (verb.empty()) return Error("the verb after ':' is empty");
        for (const char v : verb) {
          if (!IsLiteralChar(v)) return Error("the verb has a character outside [A-Za-z0-9-._~]");
        }
        literal.append(text_.substr(at_).data(), text_.size() - at_);
        at_ = text_.size();
        break;
      }
      if (ch == '*') return Error("a wildcard outside a variable binds no field");
      if (!IsLiteralChar(ch)) {
        return Error(absl::StrCat("the character '", std::string(1, ch), "' is not allowed"));
      }
      literal.push_back(ch);
      ++at_;
    }
    if (!literal.empty()) out.parts.push_back({std::move(literal), "", {}});
    for (std::size_t i = 0; i < out.parts.size(); ++i) {
      const PathTemplate::Part& part = out.parts[i];
      const bool last = i + 1 == out.parts.size() ||
                        (i + 2 == out.parts.size() && out.parts[i + 1].literal[0] == ':');
      if (part.is_variable() && !part.pattern.empty() && part.pattern.back() == "**" && !last) {
        return Error("'**' may only end the template");
      }
    }
    return out;
  }

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("path template \"", text_, "\" at offset ", at_, ": ", what));
  }

  absl::StatusOr<PathTemplate::Part> ParseVariable() {
    ++at_;  // '{'
    const std::size_t close = text_.find('}', at_);
    if (close == absl::string_view::npos) return Error("'{' is never closed");
    const absl::string_view inside = text_.substr(at_, close - at_);
    if (inside.find('{') != absl::string_view::npos) return Error("variables cannot nest");
    const std::size_t equals = inside.find('=');
    PathTemplate::Part part;
    part.field_path = std::string(inside.substr(0, equals));
    for (const absl::string_view name : absl::StrSplit(part.field_path, '.')) {
      if (!IsIdentifier(name)) {
        return Error(absl::StrCat("\"", part.field_path, "\" is not a field path"));
      }
    }
    if (equals == absl::string_view::npos) {
      part.pattern = {"*"};
    } else {
      const absl::string_view pattern = inside.substr(equals + 1);
      for (const absl::string_view segment : absl::StrSplit(pattern, '/')) {
        if (segment.empty()) return Error("a variable's pattern has an empty segment");
        if (segment != "*" && segment != "**") {
          for (const char ch : segment) {
            if (!IsLiteralChar(ch)) {
              return Error("a variable's pattern has a character outside [A-Za-z0-9-._~*]");
            }
          }
        }
        part.pattern.emplace_back(segment);
      }
      for (std::size_t i = 0; i + 1 < part.pattern.size(); ++i) {
        if (part.pattern[i] == "**") return Error("'**' may only end a variable's pattern");
      }
    }
    at_ = close + 1;
    if (at_ < text_.size() && text_[at_] != '/' && text_[at_] != ':') {
      return Error("a variable must be a whole segment");
    }
    return part;
  }

  absl::string_view text_;
  std::size_t at_ = 0;
};

}  // namespace

std::vector<std::string> PathTemplate::VariableFields() const {
  std::vector<std::string> fields;
  for (const Part& part : parts) {
    if (part.is_variable()) fields.push_back(part.field_path);
  }
  return fields;
}

absl::StatusOr<PathTemplate> ParsePathTemplate(absl::string_view text) {
  return Parser(text).Parse();
}

absl::Status AppendVariable(absl::string_view field, absl::string_view value,
                            const std::vector<std::string>& pattern, std::string* path) {
  if (value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is required (it is part of the path)"));
  }
  const std::vector<absl::string_view> segments = absl::StrSplit(value, '/');
  const bool open_ended = !pattern.empty() && pattern.back() == "**";
  const std::size_t fixed = open_ended ? pattern.size() - 1 : pattern.size();
  if (segments.size() < fixed || (!open_ended && segments.size() != fixed)) {
    return absl::InvalidArgumentError(absl::StrCat(field, " must have the form ",
                                                   absl::StrJoin(pattern, "/"), " (it is ",
                                                   segments.size(), " path segments)"));
  }
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (segments[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(field, " has an empty path segment"));
    }
    if (i < fixed && pattern[i] != "*" && pattern[i] != segments[i]) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " must have the form ", absl::StrJoin(pattern, "/")));
    }
    if (i > 0) path->push_back('/');
    path->append(auth::PercentEncode(std::string_view(segments[i].data(), segments[i].size())));
  }
  return absl::OkStatus();
}

}  // namespace codearts::routes
