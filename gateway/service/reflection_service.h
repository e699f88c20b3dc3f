#ifndef CODEARTS_GATEWAY_SERVICE_REFLECTION_SERVICE_H_
#define CODEARTS_GATEWAY_SERVICE_REFLECTION_SERVICE_H_

#include <google/protobuf/descriptor.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace codearts::service {

/// gRPC server reflection (grpc.reflection.v1 and v1alpha, as grpcurl uses them), answered from
/// a descriptor set that keeps the .proto files' comments, so that `grpcurl describe` shows the
/// API's documentation. A file that is not in the set (a service compiled in only for tests) is
/// served from the generated descriptors, without comments. Synchronous: requests are rare.
class ReflectionService {
 public:
  /// `descriptor_set`: a serialized FileDescriptorSet, files in dependency order. `services`:
  /// the full names the server serves, listed by list_services (the reflection services are
  /// added). Fails if the set does not parse or a file does not build.
  static absl::StatusOr<std::unique_ptr<ReflectionService>> Create(
      std::string_view descriptor_set, std::vector<std::string> services);
  ~ReflectionService();
  ReflectionService(const ReflectionService&) = delete;
  ReflectionService& operator=(const ReflectionService&) = delete;

  /// The two services to register (v1, v1alpha).
  std::vector<grpc::Service*> services();

  /// What list_services answers.
  const std::vector<std::string>& service_names() const { return service_names_; }

  /// The file that defines `symbol` (a message, enum, service, method, field...), or null.
  const google::protobuf::FileDescriptor* FileContainingSymbol(const std::string& symbol) const;
  const google::protobuf::FileDescriptor* FileByName(const std::string& name) const;
  const google::protobuf::FileDescriptor* FileContainingExtension(const std::string& type,
                                                                  int number) const;
  /// The extension numbers known for message `type`, or false if the type is unknown.
  bool ExtensionNumbers(const std::string& type, std::vector<int>* numbers) const;

 private:
  ReflectionService() = default;
  template <typename Service, typename Request, typename Response>
  class Endpoint;

  google::protobuf::DescriptorPool pool_;  // the set, with source info
  std::vector<std::string> service_names_;
  std::vector<std::unique_ptr<grpc::Service>> endpoints_;
};

}  // namespace codearts::service

#endif  // CODEARTS_GATEWAY_SERVICE_REFLECTION_SERVICE_H_
