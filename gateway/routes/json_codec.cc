#include "routes/json_codec.h"

#include <algorithm>
#include <array>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace codearts::routes {
namespace {

namespace json = boost::json;
namespace pb = google::protobuf;
using Cpp = pb::FieldDescriptor::CppType;

// The field's name in the REST API's JSON: its proto name, unless the proto gives a json_name
// explicitly (for the few camelCase names CodeArts uses, such as "packageType").
std::string RestName(const pb::FieldDescriptor& field) {
  return field.has_json_name() ? std::string(field.json_name()) : std::string(field.name());
}

const pb::FieldDescriptor* FindByRestName(const pb::Descriptor& descriptor, std::string_view key) {
  const pb::FieldDescriptor* field = descriptor.FindFieldByName(std::string(key));
  if (field != nullptr && !field->has_json_name()) return field;
  for (int i = 0; i < descriptor.field_count(); ++i) {
    const pb::FieldDescriptor* candidate = descriptor.field(i);
    if (candidate->has_json_name() && candidate->json_name() == key) return candidate;
  }
  return nullptr;
}

json::value ScalarToJson(const pb::Message& message, const pb::FieldDescriptor* field, int index) {
  const pb::Reflection* r = message.GetReflection();
  const bool repeated = index >= 0;
  switch (field->cpp_type()) {
    case Cpp::CPPTYPE_INT32:
      return repeated ? r->GetRepeatedInt32(message, field, index) : r->GetInt32(message, field);
    case Cpp::CPPTYPE_INT64:
      return repeated ? r->GetRepeatedInt64(message, field, index) : r->GetInt64(message, field);
    case Cpp::CPPTYPE_UINT32:
      return repeated ? r->GetRepeatedUInt32(message, field, index) : r->GetUInt32(message, field);
    case Cpp::CPPTYPE_UINT64:
      return repeated ? r->GetRepeatedUInt64(message, field, index) : r->GetUInt64(message, field);
    case Cpp::CPPTYPE_DOUBLE:
      return repeated ? r->GetRepeatedDouble(message, field, index) : r->GetDouble(message, field);
    case Cpp::CPPTYPE_FLOAT:
      return repeated ? r->GetRepeatedFloat(message, field, index) : r->GetFloat(message, field);
    case Cpp::CPPTYPE_BOOL:
      return repeated ? r->GetRepeatedBool(message, field, index) : r->GetBool(message, field);
    case Cpp::CPPTYPE_ENUM: {
      const int number = repeated ? r->GetRepeatedEnumValue(message, field, index)
                                  : r->GetEnumValue(message, field);
      if (const pb::EnumValueDescriptor* value = field->enum_type()->FindValueByNumber(number)) {
        return json::string(value->name());
      }
      return number;
    }
    case Cpp::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& text = repeated
                                    ? r->GetRepeatedStringReference(message, field, index, &scratch)
                                    : r->GetStringReference(message, field, &scratch);
      if (field->type() == pb::FieldDescriptor::TYPE_BYTES) {
        return json::string(absl::Base64Escape(text));
      }
      return json::string(text);
    }
    case Cpp::CPPTYPE_MESSAGE:
      break;
  }
  return nullptr;
}

json::object MessageToJson(const pb::Message& message,
                           const std::vector<const pb::FieldDescriptor*>& skip);

json::value FieldValueToJson(const pb::Message& message, const pb::FieldDescriptor* field,
                             int index) {
  if (field->cpp_type() != Cpp::CPPTYPE_MESSAGE) return ScalarToJson(message, field, index);
  const pb::Reflection* r = message.GetReflection();
  const pb::Message& child =
      index >= 0 ? r->GetRepeatedMessage(message, field, index) : r->GetMessage(message, field);
  return MessageToJson(child, {});
}

json::object MessageToJson(const pb::Message& message,
                           const std::vector<const pb::FieldDescriptor*>& skip) {
  json::object out;
  const pb::Descriptor* descriptor = message.GetDescriptor();
  const pb::Reflection* r = message.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const pb::FieldDescriptor* field = descriptor->field(i);
    if (std::find(skip.begin(), skip.end(), field) != skip.end()) continue;
    if (!IsFieldSet(message, field)) continue;
    if (field->is_map()) {
      json::object map;
      const pb::FieldDescriptor* key = field->message_type()->map_key();
      const pb::FieldDescriptor* value = field->message_type()->map_value();
      for (int j = 0; j < r->FieldSize(message, field); ++j) {
        const pb::Message& entry = r->GetRepeatedMessage(message, field, j);
        map[ScalarText(entry, key)] = FieldValueToJson(entry, value, -1);
      }
      out[RestName(*field)] = std::move(map);
    } else if (field->is_repeated()) {
      json::array array;
      const int size = r->FieldSize(message, field);
      array.reserve(static_cast<std::size_t>(size));
      for (int j = 0; j < size; ++j) array.push_back(FieldValueToJson(message, field, j));
      out[RestName(*field)] = std::move(array);
    } else {
      out[RestName(*field)] = FieldValueToJson(message, field, -1);
    }
  }
  return out;
}

// Reading: one JSON value into one field (or one element of a repeated field).
class Reader {
 public:
  absl::Status ReadObject(const json::object& object, pb::Message* message,
                          const std::string& prefix) {
    const pb::Descriptor* descriptor = message->GetDescriptor();
    for (const auto& [key, value] : object) {
      const pb::FieldDescriptor* field =
          FindByRestName(*descriptor, std::string_view(key.data(), key.size()));
      if (field == nullptr || value.is_null()) continue;
      const std::string path =
          prefix.empty() ? std::string(field->name()) : absl::StrCat(prefix, ".", field->name());
      if (absl::Status status = ReadField(value, field, message, path); !status.ok()) {
        return status;
      }
    }
    return absl::OkStatus();
  }

 private:
  static absl::Status TypeError(const std::string& path, absl::string_view expected) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected ", expected));
  }

  absl::Status ReadField(const json::value& value, const pb::FieldDescriptor* field,
                         pb::Message* message, const std::string& path) {
    const pb::Reflection* r = message->GetReflection();
    if (field->is_map()) {
      if (!value.is_object()) return TypeError(path, "an object");
      const pb::FieldDescriptor* key_field = field->message_type()->map_key();
      const pb::FieldDescriptor* value_field = field->message_type()->map_value();
      for (const auto& [key, element] : value.get_object()) {
        pb::Message* entry = r->AddMessage(message, field);
        const json::value key_value = json::string(key);
        if (absl::Status status = ReadScalar(key_value, key_field, entry, false, path, true);
            !status.ok()) {
          return status;
        }
        if (element.is_null()) continue;
        if (absl::Status status =
                ReadSingle(element, value_field, entry, false,
                           absl::StrCat(path, ".", absl::string_view(key.data(), key.size())));
            !status.ok()) {
          return status;
        }
      }
      return absl::OkStatus();
    }
    if (field->is_repeated()) {
      if (!value.is_array()) return TypeError(path, "an array");
      for (const json::value& element : value.get_array()) {
        if (absl::Status status = ReadSingle(element, field, message, true, path); !status.ok()) {
          return status;
        }
      }
      return absl::OkStatus();
    }
    return ReadSingle(value, field, message, false, path);
  }

  absl::Status ReadSingle(const json::value& value, const pb::FieldDescriptor* field,
                          pb::Message* message, bool add, const std::string& path) {
    if (field->cpp_type() != Cpp::CPPTYPE_MESSAGE) {
      return ReadScalar(value, field, message, add, path, false);
    }
    if (!value.is_object()) return TypeError(path, "an object");
    const pb::Reflection* r = message->GetReflection();
    pb::Message* child = add ? r->AddMessage(message, field) : r->MutableMessage(message, field);
    return ReadObject(value.get_object(), child, path);
  }

  // An integer from a JSON number (integral) or a string of digits.
  template <typename T>
  static bool ToInteger(const json::value& value, T* out) {
    if (value.is_string()) {
      const json::string& text = value.get_string();
      if constexpr (std::is_signed_v<T>) {
        std::int64_t parsed = 0;
        if (!absl::SimpleAtoi(absl::string_view(text.data(), text.size()), &parsed)) return false;
        if (parsed < std::numeric_limits<T>::min() || parsed > std::numeric_limits<T>::max()) {
          return false;
        }
        *out = static_cast<T>(parsed);
      } else {
        std::uint64_t parsed = 0;
        if (!absl::SimpleAtoi(absl::string_view(text.data(), text.size()), &parsed)) return false;
        if (parsed > std::numeric_limits<T>::max()) return false;
        *out = static_cast<T>(parsed);
      }
      return true;
    }
    if (value.is_int64()) {
      const std::int64_t v = value.get_int64();
      if constexpr (std::is_signed_v<T>) {
        if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) return false;
      } else {
        if (v < 0 || static_cast<std::uint64_t>(v) > std::numeric_limits<T>::max()) return false;
      }
      *out = static_cast<T>(v);
      return true;
    }
    if (value.is_uint64()) {
      const std::uint64_t v = value.get_uint64();
      if (v > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) return false;
      *out = static_cast<T>(v);
      return true;
    }
    if (value.is_double()) {
      const double v = value.get_double();
      if (std::trunc(v) != v || v < static_cast<double>(std::numeric_limits<T>::min()) ||
          v > static_cast<double>(std::numeric_limits<T>::max())) {
        return false;
      }
      *out = static_cast<T>(v);
      return true;
    }
    return false;
  }

  static bool ToDouble(const json::value& value, double* out) {
    if (value.is_double()) {
      *out = value.get_double();
    } else if (value.is_int64()) {
      *out = static_cast<double>(value.get_int64());
    } else if (value.is_uint64()) {
      *out = static_cast<double>(value.get_uint64());
    } else {
      return false;
    }
    return true;
  }

  absl::Status ReadScalar(const json::value& value, const pb::FieldDescriptor* field,
                          pb::Message* message, bool add, const std::string& path, bool from_key) {
    const pb::Reflection* r = message->GetReflection();
    switch (field->cpp_type()) {
      case Cpp::CPPTYPE_INT32: {
        std::int32_t v = 0;
        if (!ToInteger(value, &v)) return TypeError(path, "a 32-bit integer");
        add ? r->AddInt32(message, field, v) : r->SetInt32(message, field, v);
        return absl::OkStatus();
      }
      case Cpp::CPPTYPE_INT64: {
        std::int64_t v = 0;
        if (!ToInteger(value, &v)) return TypeError(path, "a 64-bit integer");
        add ? r->AddInt64(message, field, v) : r->SetInt64(message, field, v);
        return absl::OkStatus();
      }
      case Cpp::CPPTYPE_UINT32: {
        std::uint32_t v = 0;
        if (!ToInteger(value, &v)) return TypeError(path, "an unsigned 32-bit integer");
        add ? r->AddUInt32(message, field, v) : r->SetUInt32(message, field, v);
        return absl::OkStatus();
      }
      case Cpp::CPPTYPE_UINT64: {
        std::uint64_t v = 0;
        if (!ToInteger(value, &v)) return TypeError(path, "an unsigned 64-bit integer");
        add ? r->AddUInt64(message, field, v) : r->SetUInt64(message, field, v);
        return absl::OkStatus();
      }
      case Cpp::CPPTYPE_DOUBLE:
      case Cpp::CPPTYPE_FLOAT: {
        double v = 0;
        if (!ToDouble(value, &v)) return TypeError(path, "a number");
        if (field->cpp_type() == Cpp::CPPTYPE_DOUBLE) {
          add ? r->AddDouble(message, field, v) : r->SetDouble(message, field, v);
        } else {
          const auto f = static_cast<float>(v);
          add ? r->AddFloat(message, field, f) : r->SetFloat(message, field, f);
        }
        return absl::OkStatus();
      }
      case Cpp::CPPTYPE_BOOL: {
        bool v = false;
        if (value.is_bool()) {
          v = value.get_bool();
        } else if (from_key && value.is_string() &&
                   (value.get_string() == "true" || value.get_string() == "false")) {
          v = value.get_string() == "true";
        } else {
          return TypeError(path, "true or false");
        }
        add ? r->AddBool(message, field, v) : r->SetBool(message, field, v);
        return absl::OkStatus();
      }
      case Cpp::CPPTYPE_ENUM: {
        int number = 0;
        if (value.is_string()) {
          const json::string& name = value.get_string();
          const pb::EnumValueDescriptor* known =
              field->enum_type()->FindValueByName(std::string(name.data(), name.size()));
          if (known == nullptr) return absl::OkStatus();  // a value added after this proto
          number = known->number();
        } else if (!ToInteger(value, &number)) {
          return TypeError(path, "an enum name or number");
        }
        add ? r->AddEnumValue(message, field, number) : r->SetEnumValue(message, field, number);
        return absl::OkStatus();
      }
      case Cpp::CPPTYPE_STRING: {
        if (!value.is_string()) return TypeError(path, "a string");
        const json::string& text = value.get_string();
        std::string v(text.data(), text.size());
        if (field->type() == pb::FieldDescriptor::TYPE_BYTES) {
          std::string decoded;
          if (!absl::Base64Unescape(v, &decoded)) return TypeError(path, "base64");
          v = std::move(decoded);
        }
        add ? r->AddString(message, field, std::move(v))
            : r->SetString(message, field, std::move(v));
        return absl::OkStatus();
      }
      case Cpp::CPPTYPE_MESSAGE:
        break;
    }
    return TypeError(path, "a scalar");
  }
};

}  // namespace

bool IsFieldSet(const pb::Message& message, const pb::FieldDescriptor* field) {
  const pb::Reflection* r = message.GetReflection();
  // For a proto3 scalar without presence, HasField is "not the default value".
  return field->is_repeated() ? r->FieldSize(message, field) > 0 : r->HasField(message, field);
}

std::string ScalarText(const pb::Message& message, const pb::FieldDescriptor* field, int index) {
  const json::value value = ScalarToJson(message, field, index);
  if (value.is_string()) return std::string(value.get_string());
  // Boost.JSON writes doubles in exponent form (1.5E0); a query string wants 1.5.
  if (value.is_double()) return absl::StrCat(value.get_double());
  return json::serialize(value);
}

std::string WriteJson(const pb::Message& message,
                      const std::vector<const pb::FieldDescriptor*>& skip) {
  return json::serialize(MessageToJson(message, skip));
}

absl::Status ReadJson(absl::string_view text, pb::Message* message) {
  // Small answers parse without touching the heap.
  std::array<unsigned char, 4096> scratch{};
  json::monotonic_resource resource(scratch.data(), scratch.size());
  boost::system::error_code ec;
  const json::value parsed =
      json::parse(json::string_view(text.data(), text.size()), ec, &resource);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("not JSON: ", ec.message()));
  if (!parsed.is_object()) return absl::InvalidArgumentError("not a JSON object");
  return Reader().ReadObject(parsed.get_object(), message, "");
}

}  // namespace codearts::routes
