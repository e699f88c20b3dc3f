// The gRPC half of the benchmark's floor: the least a C++ completion-queue server on Debian's
// gRPC can do per Stop call. It answers every call at once with a fixed StopResponse, on one
// completion queue polled by one thread, with no HTTP, logs or metrics. The gateway's CPU per
// call is compared with this server's plus a direct HTTPS client's (wrk), measured in the same
// run (tests/bench/run_bench.sh).
//
// With --hop, each answer is handed to a thread running an Asio io_context, which calls Finish,
// as the gateway's calls are (its upstream exchange runs on its I/O thread): the difference is
// the cost of that hand-off alone.
//
//   floor_grpc_server --listen=127.0.0.1:0 [--hop]  # prints "listening on PORT", serves until
//   SIGTERM
#include <grpcpp/grpcpp.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "codearts/pipeline/v1/pipeline.grpc.pb.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "gRPC listen address");
ABSL_FLAG(bool, hop, false, "Call Finish from an Asio I/O thread, as the gateway does");

namespace {

using codearts::pipeline::v1::PipelineService;
using codearts::pipeline::v1::StopRequest;
using codearts::pipeline::v1::StopResponse;

// The classic async call: request, answer at once, delete on the finish tag.
class Call {
 public:
  Call(PipelineService::AsyncService& service, grpc::ServerCompletionQueue& cq,
       boost::asio::io_context* io)
      : service_(service), cq_(cq), io_(io), responder_(&context_) {
    service_.RequestStop(&context_, &request_, &responder_, &cq_, &cq_, this);
  }

  void Proceed(bool ok) {
    if (finishing_ || !ok) {
      delete this;
      return;
    }
    new Call(service_, cq_, io_);
    response_.set_pipeline_id(request_.pipeline_id());
    response_.set_pipeline_name("bench");
    finishing_ = true;
    if (io_ == nullptr) {
      responder_.Finish(response_, grpc::Status::OK, this);
    } else {
      boost::asio::post(*io_, [this] { responder_.Finish(response_, grpc::Status::OK, this); });
    }
  }

 private:
  PipelineService::AsyncService& service_;
  grpc::ServerCompletionQueue& cq_;
  boost::asio::io_context* io_;
  grpc::ServerContext context_;
  StopRequest request_;
  StopResponse response_;
  grpc::ServerAsyncResponseWriter<StopResponse> responder_;
  bool finishing_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  PipelineService::AsyncService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen), grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::ServerCompletionQueue> cq = builder.AddCompletionQueue();
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::fprintf(stderr, "floor_grpc_server: cannot listen\n");
    return 1;
  }
  std::printf("listening on %d\n", port);
  std::fflush(stdout);
  std::thread poller([&cq] {
    void* tag = nullptr;
    bool ok = false;
    while (cq->Next(&tag, &ok)) static_cast<Call*>(tag)->Proceed(ok);
  });
  boost::asio::io_context io(1);
  auto work = boost::asio::make_work_guard(io);
  std::thread io_thread([&io] { io.run(); });
  new Call(service, *cq, absl::GetFlag(FLAGS_hop) ? &io : nullptr);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  server->Shutdown(std::chrono::system_clock::now());
  work.reset();
  io_thread.join();
  cq->Shutdown();
  poller.join();
  return 0;
}
