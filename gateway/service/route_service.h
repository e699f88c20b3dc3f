#ifndef CODEARTS_GATEWAY_SERVICE_ROUTE_SERVICE_H_
#define CODEARTS_GATEWAY_SERVICE_ROUTE_SERVICE_H_

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/impl/rpc_service_method.h>
#include <grpcpp/impl/service_type.h>
#include <grpcpp/support/async_stream.h>
#include <grpcpp/support/async_unary_call.h>
#include <grpcpp/support/byte_buffer.h>

#include <cstddef>
#include <vector>

#include "observability/metrics.h"
#include "routes/route_table.h"

namespace codearts::service {

/// One gRPC service whose methods are the routes of a RouteTable, all served through the
/// completion-queue API with their messages parsed into (and serialized from) instances of the
/// compiled-in message types: what the generated `AsyncService` does, for any service, with no
/// generated code per method.
class RouteService final : public grpc::Service {
 public:
  RouteService(const routes::RouteTable& table, observability::GatewayMetrics& metrics)
      : table_(table) {
    for (const routes::Route& route : table_.routes) {
      AddMethod(new grpc::internal::RpcServiceMethod(
          route.grpc_path.c_str(),
          route.server_streaming ? grpc::internal::RpcMethod::SERVER_STREAMING
                                 : grpc::internal::RpcMethod::NORMAL_RPC,
          nullptr));
      MarkMethodAsync(static_cast<int>(method_metrics_.size()));
      method_metrics_.push_back(&metrics.ForMethod(route.name));
    }
  }

  const routes::RouteTable& table() const { return table_; }
  const routes::Route& route(std::size_t index) const { return table_.routes[index]; }
  observability::MethodMetrics& metrics(std::size_t index) const { return *method_metrics_[index]; }

  /// Asks for the next call of route `index`; `tag` comes back on `cq` when one arrives, with
  /// `request` parsed.
  void RequestUnary(std::size_t index, grpc::ServerContext* context,
                    google::protobuf::Message* request,
                    grpc::ServerAsyncResponseWriter<google::protobuf::Message>* responder,
                    grpc::ServerCompletionQueue* cq, void* tag) {
    RequestAsyncUnary(static_cast<int>(index), context, request, responder, cq, cq, tag);
  }

  /// Asks for the next call of the server-streaming route `index`; its messages are written
  /// already serialized.
  void RequestStreaming(std::size_t index, grpc::ServerContext* context,
                        google::protobuf::Message* request,
                        grpc::ServerAsyncWriter<grpc::ByteBuffer>* writer,
                        grpc::ServerCompletionQueue* cq, void* tag) {
    RequestAsyncServerStreaming(static_cast<int>(index), context, request, writer, cq, cq, tag);
  }

 private:
  const routes::RouteTable& table_;
  std::vector<observability::MethodMetrics*> method_metrics_;
};

}  // namespace codearts::service

#endif  // CODEARTS_GATEWAY_SERVICE_ROUTE_SERVICE_H_
