#include "routes/watch_rule.h"

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cstddef>

#include "absl/strings/str_cat.h"

namespace codearts::routes {
namespace {

namespace pb = google::protobuf;

// Appends the values at `path[depth..]` under `message`, each length-prefixed so that no two
// different sequences of values give the same text.
void AppendValues(const pb::Message& message, const std::vector<const pb::FieldDescriptor*>& path,
                  std::size_t depth, std::string& key) {
  const pb::FieldDescriptor* field = path[depth];
  const pb::Reflection* reflection = message.GetReflection();
  const bool last = depth + 1 == path.size();
  const int count = field->is_repeated() ? reflection->FieldSize(message, field) : 1;
  if (field->is_repeated()) absl::StrAppend(&key, "[", count, "]");
  for (int i = 0; i < count; ++i) {
    if (!last) {
      const pb::Message& child = field->is_repeated()
                                     ? reflection->GetRepeatedMessage(message, field, i)
                                     : reflection->GetMessage(message, field);
      AppendValues(child, path, depth + 1, key);
      continue;
    }
    std::string value;
    if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING) {
      value = field->is_repeated() ? reflection->GetRepeatedString(message, field, i)
                                   : reflection->GetString(message, field);
    } else {
      // Scalars other than strings are compared through their text form.
      pb::TextFormat::PrintFieldValueToString(message, field, field->is_repeated() ? i : -1,
                                              &value);
    }
    absl::StrAppend(&key, value.size(), ":", value);
  }
}

}  // namespace

absl::StatusOr<std::chrono::milliseconds> PollInterval(const Route& route,
                                                       const pb::Message& request) {
  const WatchSpec& spec = route.watch;
  if (spec.interval_field == nullptr) return spec.default_interval;
  const pb::Reflection* reflection = request.GetReflection();
  if (!reflection->HasField(request, spec.interval_field)) return spec.default_interval;
  const pb::Message& value = reflection->GetMessage(request, spec.interval_field);
  pb::Duration duration;
  duration.CopyFrom(value);
  if (duration.seconds() == 0 && duration.nanos() == 0) return spec.default_interval;
  const auto asked =
      std::chrono::seconds(duration.seconds()) + std::chrono::nanoseconds(duration.nanos());
  if (asked < spec.min_interval || asked > spec.max_interval) {
    return absl::InvalidArgumentError(
        absl::StrCat(spec.interval_field->name(), " must be between ",
                     static_cast<double>(spec.min_interval.count()) / 1000.0, " s and ",
                     static_cast<double>(spec.max_interval.count()) / 1000.0, " s"));
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(asked);
}

void FillPollRequest(const WatchSpec& spec, const pb::Message& request, pb::Message* poll_request) {
  const pb::Reflection* from = request.GetReflection();
  const pb::Reflection* to = poll_request->GetReflection();
  for (const auto& [source, target] : spec.copied) {
    if (source->is_repeated()) {
      for (int i = 0; i < from->FieldSize(request, source); ++i) {
        if (source->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING) {
          to->AddString(poll_request, target, from->GetRepeatedString(request, source, i));
        } else if (source->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
          to->AddMessage(poll_request, target)
              ->CopyFrom(from->GetRepeatedMessage(request, source, i));
        }
      }
      continue;
    }
    switch (source->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_STRING:
        to->SetString(poll_request, target, from->GetString(request, source));
        break;
      case pb::FieldDescriptor::CPPTYPE_MESSAGE:
        if (from->HasField(request, source)) {
          to->MutableMessage(poll_request, target)->CopyFrom(from->GetMessage(request, source));
        }
        break;
      case pb::FieldDescriptor::CPPTYPE_INT32:
        to->SetInt32(poll_request, target, from->GetInt32(request, source));
        break;
      case pb::FieldDescriptor::CPPTYPE_INT64:
        to->SetInt64(poll_request, target, from->GetInt64(request, source));
        break;
      case pb::FieldDescriptor::CPPTYPE_UINT32:
        to->SetUInt32(poll_request, target, from->GetUInt32(request, source));
        break;
      case pb::FieldDescriptor::CPPTYPE_UINT64:
        to->SetUInt64(poll_request, target, from->GetUInt64(request, source));
        break;
      case pb::FieldDescriptor::CPPTYPE_BOOL:
        to->SetBool(poll_request, target, from->GetBool(request, source));
        break;
      case pb::FieldDescriptor::CPPTYPE_DOUBLE:
        to->SetDouble(poll_request, target, from->GetDouble(request, source));
        break;
      case pb::FieldDescriptor::CPPTYPE_FLOAT:
        to->SetFloat(poll_request, target, from->GetFloat(request, source));
        break;
      case pb::FieldDescriptor::CPPTYPE_ENUM:
        to->SetEnumValue(poll_request, target, from->GetEnumValue(request, source));
        break;
    }
  }
}

std::string RequestedRun(const WatchSpec& spec, const pb::Message& poll_request) {
  if (spec.run_field == nullptr) return {};
  return poll_request.GetReflection()->GetString(poll_request, spec.run_field);
}

std::string RunOf(const WatchSpec& spec, const pb::Message& response) {
  if (spec.run_response_field == nullptr) return {};
  return response.GetReflection()->GetString(response, spec.run_response_field);
}

std::string StateKey(const WatchSpec& spec, const pb::Message& response) {
  std::string key;
  for (const auto& path : spec.state_fields) {
    AppendValues(response, path, 0, key);
    key.push_back(';');
  }
  return key;
}

bool IsFinalState(const WatchSpec& spec, const pb::Message& response) {
  const std::string value = response.GetReflection()->GetString(response, spec.end_field);
  return std::find(spec.end_values.begin(), spec.end_values.end(), value) != spec.end_values.end();
}

}  // namespace codearts::routes
