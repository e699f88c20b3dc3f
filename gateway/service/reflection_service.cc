#include "service/reflection_service.h"

#include <google/protobuf/descriptor.pb.h>

#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace codearts::service {
namespace {

namespace pb = google::protobuf;

const pb::DescriptorPool& Generated() { return *pb::DescriptorPool::generated_pool(); }

// The file, then each file it depends on not sent yet on this stream (grpcurl needs them all to
// build the descriptors), each with its comments when its pool has them.
template <typename FileResponse>
void AddFileAndDependencies(const pb::FileDescriptor& file, std::set<std::string>* sent,
                            FileResponse* out) {
  if (!sent->insert(std::string(file.name())).second) return;
  pb::FileDescriptorProto proto;
  file.CopyTo(&proto);
  file.CopySourceCodeInfoTo(&proto);
  proto.SerializeToString(out->add_file_descriptor_proto());
  for (int i = 0; i < file.dependency_count(); ++i) {
    AddFileAndDependencies(*file.dependency(i), sent, out);
  }
}

}  // namespace

// One version of the reflection API: v1 and v1alpha have the same messages in two packages.
template <typename Service, typename Request, typename Response>
class ReflectionService::Endpoint final : public Service {
 public:
  explicit Endpoint(const ReflectionService& index) : index_(index) {}

  grpc::Status ServerReflectionInfo(grpc::ServerContext* /*context*/,
                                    grpc::ServerReaderWriter<Response, Request>* stream) override {
    Request request;
    std::set<std::string> sent;  // files already sent on this stream
    while (stream->Read(&request)) {
      Response response;
      Answer(request, &sent, &response);
      if (!stream->Write(response)) break;
    }
    return grpc::Status::OK;
  }

 private:
  void Answer(const Request& request, std::set<std::string>* sent, Response* response) const {
    response->set_valid_host(request.host());
    *response->mutable_original_request() = request;
    const auto not_found = [response](const std::string& what) {
      auto* error = response->mutable_error_response();
      error->set_error_code(static_cast<int>(grpc::StatusCode::NOT_FOUND));
      error->set_error_message(what);
    };
    const auto send_file = [&](const pb::FileDescriptor* file, const std::string& what) {
      if (file == nullptr) return not_found(what);
      AddFileAndDependencies(*file, sent, response->mutable_file_descriptor_response());
    };
    switch (request.message_request_case()) {
      case Request::kFileByFilename:
        return send_file(index_.FileByName(request.file_by_filename()),
                         absl::StrCat("file not found: ", request.file_by_filename()));
      case Request::kFileContainingSymbol:
        return send_file(index_.FileContainingSymbol(request.file_containing_symbol()),
                         absl::StrCat("symbol not found: ", request.file_containing_symbol()));
      case Request::kFileContainingExtension: {
        const auto& extension = request.file_containing_extension();
        return send_file(index_.FileContainingExtension(extension.containing_type(),
                                                        extension.extension_number()),
                         absl::StrCat("extension not found: ", extension.containing_type(), " ",
                                      extension.extension_number()));
      }
      case Request::kAllExtensionNumbersOfType: {
        std::vector<int> numbers;
        if (!index_.ExtensionNumbers(request.all_extension_numbers_of_type(), &numbers)) {
          return not_found(
              absl::StrCat("type not found: ", request.all_extension_numbers_of_type()));
        }
        auto* out = response->mutable_all_extension_numbers_response();
        out->set_base_type_name(request.all_extension_numbers_of_type());
        for (const int number : numbers) out->add_extension_number(number);
        return;
      }
      case Request::kListServices:
        for (const std::string& name : index_.service_names()) {
          response->mutable_list_services_response()->add_service()->set_name(name);
        }
        return;
      default: {
        auto* error = response->mutable_error_response();
        error->set_error_code(static_cast<int>(grpc::StatusCode::UNIMPLEMENTED));
        error->set_error_message("unknown reflection request");
        return;
      }
    }
  }

  const ReflectionService& index_;
};

absl::StatusOr<std::unique_ptr<ReflectionService>> ReflectionService::Create(
    std::string_view descriptor_set, std::vector<std::string> services) {
  pb::FileDescriptorSet set;
  if (!set.ParseFromArray(descriptor_set.data(), static_cast<int>(descriptor_set.size()))) {
    return absl::InternalError("the API's descriptor set does not parse");
  }
  std::unique_ptr<ReflectionService> reflection(new ReflectionService());
  for (const pb::FileDescriptorProto& file : set.file()) {
    if (reflection->pool_.BuildFile(file) == nullptr) {
      return absl::InternalError(
          absl::StrCat("the API's descriptor set has a file that does not build: ", file.name()));
    }
  }
  namespace v1 = grpc::reflection::v1;
  namespace v1alpha = grpc::reflection::v1alpha;
  reflection->endpoints_.push_back(
      std::make_unique<Endpoint<v1::ServerReflection::Service, v1::ServerReflectionRequest,
                                v1::ServerReflectionResponse>>(*reflection));
  reflection->endpoints_.push_back(
      std::make_unique<
          Endpoint<v1alpha::ServerReflection::Service, v1alpha::ServerReflectionRequest,
                   v1alpha::ServerReflectionResponse>>(*reflection));
  services.emplace_back(v1::ServerReflection::service_full_name());
  services.emplace_back(v1alpha::ServerReflection::service_full_name());
  reflection->service_names_ = std::move(services);
  return reflection;
}

ReflectionService::~ReflectionService() = default;

std::vector<grpc::Service*> ReflectionService::services() {
  std::vector<grpc::Service*> out;
  out.reserve(endpoints_.size());
  for (const auto& endpoint : endpoints_) out.push_back(endpoint.get());
  return out;
}

const pb::FileDescriptor* ReflectionService::FileContainingSymbol(const std::string& symbol) const {
  const pb::FileDescriptor* file = pool_.FindFileContainingSymbol(symbol);
  return file != nullptr ? file : Generated().FindFileContainingSymbol(symbol);
}

const pb::FileDescriptor* ReflectionService::FileByName(const std::string& name) const {
  const pb::FileDescriptor* file = pool_.FindFileByName(name);
  return file != nullptr ? file : Generated().FindFileByName(name);
}

const pb::FileDescriptor* ReflectionService::FileContainingExtension(const std::string& type,
                                                                     int number) const {
  for (const pb::DescriptorPool* pool : {&pool_, &Generated()}) {
    const pb::Descriptor* message = pool->FindMessageTypeByName(type);
    if (message == nullptr) continue;
    if (const pb::FieldDescriptor* extension = pool->FindExtensionByNumber(message, number)) {
      return extension->file();
    }
  }
  return nullptr;
}

bool ReflectionService::ExtensionNumbers(const std::string& type, std::vector<int>* numbers) const {
  for (const pb::DescriptorPool* pool : {&pool_, &Generated()}) {
    const pb::Descriptor* message = pool->FindMessageTypeByName(type);
    if (message == nullptr) continue;
    std::vector<const pb::FieldDescriptor*> extensions;
    pool->FindAllExtensions(message, &extensions);
    for (const pb::FieldDescriptor* extension : extensions) numbers->push_back(extension->number());
    return true;
  }
  return false;
}

}  // namespace codearts::service
