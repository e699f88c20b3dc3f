// Server reflection checked the way grpcurl uses it: list services, then fetch file descriptors
// by symbol, including the google.rpc messages carried in error details.
#include <google/protobuf/descriptor.pb.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "codearts/gateway/v1/options.pb.h"
#include "e2e/gateway_fixture.h"
#include "google/api/annotations.pb.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace codearts::e2e {
namespace {

using grpc::reflection::v1alpha::ServerReflection;
using grpc::reflection::v1alpha::ServerReflectionRequest;
using grpc::reflection::v1alpha::ServerReflectionResponse;

class ReflectionTest : public ::testing::Test {
 protected:
  testing::CodeArtsStandin standin_{testing::StandinOptions{}, SharedPki()};
  GatewayUnderTest gateway_{standin_};

  ServerReflectionResponse Ask(const ServerReflectionRequest& request) {
    auto stub = ServerReflection::NewStub(gateway_.channel());
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    auto stream = stub->ServerReflectionInfo(&context);
    EXPECT_TRUE(stream->Write(request));
    stream->WritesDone();
    ServerReflectionResponse response;
    EXPECT_TRUE(stream->Read(&response));
    ServerReflectionResponse extra;
    while (stream->Read(&extra)) {
    }
    const grpc::Status status = stream->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // Names of the files returned for `symbol` (the file and, as grpcurl asks, its dependencies).
  std::set<std::string> FilesForSymbol(const std::string& symbol) {
    ServerReflectionRequest request;
    request.set_file_containing_symbol(symbol);
    const ServerReflectionResponse response = Ask(request);
    EXPECT_TRUE(response.has_file_descriptor_response())
        << symbol << ": " << response.error_response().error_message();
    std::set<std::string> names;
    for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
      google::protobuf::FileDescriptorProto file;
      EXPECT_TRUE(file.ParseFromString(bytes));
      names.insert(file.name());
    }
    return names;
  }
};

TEST_F(ReflectionTest, ListsTheGatewayHealthAndReflectionServices) {
  ServerReflectionRequest request;
  request.set_list_services("*");
  const ServerReflectionResponse response = Ask(request);
  std::set<std::string> services;
  for (const auto& service : response.list_services_response().service()) {
    services.insert(service.name());
  }
  EXPECT_TRUE(services.count("codearts.pipeline.v1.PipelineService"));
  EXPECT_TRUE(services.count("grpc.health.v1.Health"));
  EXPECT_TRUE(services.count("grpc.reflection.v1alpha.ServerReflection"));
}

TEST_F(ReflectionTest, DescribesThePipelineService) {
  const std::set<std::string> files = FilesForSymbol("codearts.pipeline.v1.PipelineService");
  EXPECT_TRUE(files.count("codearts/pipeline/v1/pipeline.proto"));
  // The method's input type resolves too (grpcurl builds the request from it).
  EXPECT_TRUE(FilesForSymbol("codearts.pipeline.v1.StopRequest")
                  .count("codearts/pipeline/v1/pipeline.proto"));
}

TEST_F(ReflectionTest, DescribesEachRouteAsDeclaredInTheProto) {
  // What `grpcurl describe codearts.pipeline.v1.PipelineService.Stop` prints: the method with
  // its google.api.http option, from the descriptors the gateway serves.
  ServerReflectionRequest request;
  request.set_file_containing_symbol("codearts.pipeline.v1.PipelineService.Stop");
  const ServerReflectionResponse response = Ask(request);
  std::set<std::string> names;
  google::protobuf::FileDescriptorProto pipeline;
  for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(file.ParseFromString(bytes));
    names.insert(file.name());
    if (file.name() == "codearts/pipeline/v1/pipeline.proto") pipeline = file;
  }
  EXPECT_TRUE(names.count("google/api/http.proto"));
  EXPECT_TRUE(names.count("google/api/annotations.proto"));
  EXPECT_TRUE(names.count("codearts/gateway/v1/options.proto"));
  ASSERT_EQ(pipeline.service_size(), 1);
  const google::protobuf::MethodDescriptorProto* stop = nullptr;
  for (const auto& method : pipeline.service(0).method()) {
    if (method.name() == "Stop") stop = &method;
  }
  ASSERT_NE(stop, nullptr);
  ASSERT_TRUE(stop->options().HasExtension(google::api::http));
  EXPECT_EQ(stop->options().GetExtension(google::api::http).post(),
            "/v3/pipelines/{pipeline_id}/stop");
  EXPECT_EQ(stop->options().GetExtension(gateway::v1::rest).operation(), "StopPipelineNew");
}

// The descriptors carry the .proto's comments, so `grpcurl describe` prints the documentation of
// the service, its methods, messages and fields.
TEST_F(ReflectionTest, ServesTheProtoCommentsForServicesMethodsMessagesAndFields) {
  ServerReflectionRequest request;
  request.set_file_containing_symbol("codearts.pipeline.v1.PipelineService");
  const ServerReflectionResponse response = Ask(request);
  google::protobuf::FileDescriptorProto pipeline;
  for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(file.ParseFromString(bytes));
    if (file.name() == "codearts/pipeline/v1/pipeline.proto") pipeline = file;
  }
  ASSERT_EQ(pipeline.service_size(), 1);
  int stop_index = -1;
  for (int i = 0; i < pipeline.service(0).method_size(); ++i) {
    if (pipeline.service(0).method(i).name() == "Stop") stop_index = i;
  }
  int request_index = -1;
  for (int i = 0; i < pipeline.message_type_size(); ++i) {
    if (pipeline.message_type(i).name() == "StopRequest") request_index = i;
  }
  ASSERT_GE(stop_index, 0);
  ASSERT_GE(request_index, 0);
  // Paths as descriptor.proto numbers them: service = 6, method = 2, message_type = 4, field = 2.
  const auto comment = [&](const std::vector<int>& path) {
    for (const auto& location : pipeline.source_code_info().location()) {
      if (std::vector<int>(location.path().begin(), location.path().end()) == path) {
        return location.leading_comments();
      }
    }
    return std::string();
  };
  EXPECT_NE(comment({6, 0}), "");
  EXPECT_NE(comment({6, 0, 2, stop_index}).find("DEADLINE_EXCEEDED"), std::string::npos)
      << comment({6, 0, 2, stop_index});
  EXPECT_NE(comment({4, request_index}), "");
  EXPECT_NE(comment({4, request_index, 2, 0}), "");
}

// grpcurl asks for grpc.reflection.v1 first, and falls back to v1alpha.
TEST_F(ReflectionTest, AnswersTheV1ApiToo) {
  namespace v1 = grpc::reflection::v1;
  auto stub = v1::ServerReflection::NewStub(gateway_.channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto stream = stub->ServerReflectionInfo(&context);
  v1::ServerReflectionRequest list;
  list.set_list_services("*");
  ASSERT_TRUE(stream->Write(list));
  v1::ServerReflectionRequest symbol;
  symbol.set_file_containing_symbol("codearts.pipeline.v1.StopRequest");
  ASSERT_TRUE(stream->Write(symbol));
  v1::ServerReflectionRequest unknown;
  unknown.set_file_containing_symbol("no.such.Thing");
  ASSERT_TRUE(stream->Write(unknown));
  stream->WritesDone();
  v1::ServerReflectionResponse listed, file, missing;
  ASSERT_TRUE(stream->Read(&listed));
  ASSERT_TRUE(stream->Read(&file));
  ASSERT_TRUE(stream->Read(&missing));
  EXPECT_TRUE(stream->Finish().ok());
  std::set<std::string> services;
  for (const auto& service : listed.list_services_response().service()) {
    services.insert(service.name());
  }
  EXPECT_TRUE(services.count("grpc.reflection.v1.ServerReflection"));
  EXPECT_TRUE(services.count("codearts.pipeline.v1.PipelineService"));
  ASSERT_GE(file.file_descriptor_response().file_descriptor_proto_size(), 1);
  google::protobuf::FileDescriptorProto first;
  ASSERT_TRUE(first.ParseFromString(file.file_descriptor_response().file_descriptor_proto(0)));
  EXPECT_EQ(first.name(), "codearts/pipeline/v1/pipeline.proto");
  EXPECT_EQ(missing.error_response().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ReflectionTest, ServesTheErrorDetailTypes) {
  EXPECT_TRUE(FilesForSymbol("google.rpc.ErrorInfo").count("google/rpc/error_details.proto"));
  EXPECT_TRUE(FilesForSymbol("google.rpc.Status").count("google/rpc/status.proto"));
}

}  // namespace
}  // namespace codearts::e2e
