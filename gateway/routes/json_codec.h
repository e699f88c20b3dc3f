#ifndef CODEARTS_GATEWAY_ROUTES_JSON_CODEC_H_
#define CODEARTS_GATEWAY_ROUTES_JSON_CODEC_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace codearts::routes {

/// Protobuf messages as the JSON a REST API speaks, in both directions, with the REST API's own
/// field names (the proto field names, snake_case) rather than proto3 JSON's lowerCamelCase.
/// Unlike proto3 JSON, 64-bit integers are JSON numbers (CodeArts sends and expects numbers,
/// e.g. times in milliseconds), and only fields that are set are written: a proto3 scalar
/// without presence when it is not its default, an `optional` one when present.
///
/// Types: strings, booleans, numbers, enums (by name; a number is accepted when reading),
/// bytes (base64), nested messages (objects), repeated fields (arrays) and maps (objects).

/// Writes `message` as a JSON object, leaving out `skip` (the fields bound to the path).
std::string WriteJson(const google::protobuf::Message& message,
                      const std::vector<const google::protobuf::FieldDescriptor*>& skip = {});

/// Fills `message` from the JSON object `json`. Unknown fields and `null` values are ignored,
/// so that CodeArts may add fields; a value of the wrong type is an error naming the field
/// path. Integers may also come as strings of digits; unknown enum names read as the default.
absl::Status ReadJson(absl::string_view json, google::protobuf::Message* message);

/// The text of a scalar field's value as sent in a query string or path: strings as they are,
/// numbers in decimal, booleans as true/false, enums by name.
std::string ScalarText(const google::protobuf::Message& message,
                       const google::protobuf::FieldDescriptor* field, int index = -1);

/// True when `field` of `message` is set in the sense above (what WriteJson writes).
bool IsFieldSet(const google::protobuf::Message& message,
                const google::protobuf::FieldDescriptor* field);

}  // namespace codearts::routes

#endif  // CODEARTS_GATEWAY_ROUTES_JSON_CODEC_H_
