#ifndef CODEARTS_PROTO_API_DESCRIPTOR_SET_H_
#define CODEARTS_PROTO_API_DESCRIPTOR_SET_H_

#include <string_view>

namespace codearts::proto {

/// A serialized google.protobuf.FileDescriptorSet of the gateway's API and everything it imports
/// (the pipeline service, google.rpc, grpc.health.v1, grpc.reflection), with source info: the
/// comments written in the .proto files. Files come in dependency order.
std::string_view ApiDescriptorSet();

}  // namespace codearts::proto

#endif  // CODEARTS_PROTO_API_DESCRIPTOR_SET_H_
