#ifndef CODEARTS_GATEWAY_SERVICE_CQ_TAG_H_
#define CODEARTS_GATEWAY_SERVICE_CQ_TAG_H_

namespace codearts::service {

/// Something that owns completion-queue tags: the CQ loop hands each event back to it.
class CqHandler {
 public:
  virtual void OnTag(int kind, bool ok) = 0;

 protected:
  ~CqHandler() = default;
};

/// A completion-queue tag: which handler, and which of its operations completed.
struct CqTag {
  CqHandler* handler;
  int kind;
};

}  // namespace codearts::service

#endif  // CODEARTS_GATEWAY_SERVICE_CQ_TAG_H_
