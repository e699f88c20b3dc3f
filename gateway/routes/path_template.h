#ifndef CODEARTS_GATEWAY_ROUTES_PATH_TEMPLATE_H_
#define CODEARTS_GATEWAY_ROUTES_PATH_TEMPLATE_H_

#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace codearts::routes {

/// A parsed `google.api.http` path template, ready to be filled in with field values. The
/// grammar is http.proto's:
///
///     Template = "/" Segments [ Verb ] ;
///     Segments = Segment { "/" Segment } ;
///     Segment  = "*" | "**" | LITERAL | Variable ;
///     Variable = "{" FieldPath [ "=" Segments ] "}" ;
///     FieldPath = IDENT { "." IDENT } ;
///     Verb     = ":" LITERAL ;
///
/// The gateway builds requests rather than matching them, so a wildcard outside a variable (it
/// would bind no field) is an error, and so is `**` anywhere but at the end of the template.
struct PathTemplate {
  /// One piece of the path: literal text (slashes included) or a variable.
  struct Part {
    std::string literal;
    /// Set for a variable: the field path ("pipeline_id", "parent.name").
    std::string field_path;
    /// A variable's segment pattern ("*" for `{field}`; "projects", "*", "**" for
    /// `{field=projects/*/**}`).
    std::vector<std::string> pattern;

    bool is_variable() const { return !field_path.empty(); }
  };
  std::vector<Part> parts;
  std::string text;  // as written in the proto

  /// The field paths of the variables, in order.
  std::vector<std::string> VariableFields() const;
};

/// Parses `text`; the error says what is wrong and where.
absl::StatusOr<PathTemplate> ParsePathTemplate(absl::string_view text);

/// Appends the value of a variable with segment `pattern` to `path`: each segment
/// percent-encoded as the SDK-HMAC-SHA256 signer canonicalises it (everything outside
/// `A-Za-z0-9-_.~`), joined by '/'. INVALID_ARGUMENT (naming `field`) when the value is empty
/// or does not fit the pattern (a one-segment variable holding a '/', a literal that differs).
absl::Status AppendVariable(absl::string_view field, absl::string_view value,
                            const std::vector<std::string>& pattern, std::string* path);

}  // namespace codearts::routes

#endif  // CODEARTS_GATEWAY_ROUTES_PATH_TEMPLATE_H_
