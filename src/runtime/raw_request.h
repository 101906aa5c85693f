// The raw side of pb.Backend's request RPCs (backend_service.cc takes
// HandleRequest and HandleExistenceCheck as bytes): the size check made
// before anything is parsed, parsing that releases the received bytes at
// once, and giving memory back after a large request.
#pragma once

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>

#include <optional>
#include <string>

#include "common/status.h"
#include "logical/backend.h"

namespace taskcred::runtime {

// Parses a received message; the received bytes are released at once.
template <typename M>
grpc::Status ParseRaw(grpc::ByteBuffer* in, M* msg) {
  grpc::Status s = grpc::GenericDeserialize<grpc::ProtoBufferReader, M>(in, msg);
  in->Clear();
  return s;
}

template <typename M>
grpc::Status SerializeRaw(const M& msg, grpc::ByteBuffer* out) {
  bool own_buffer = false;
  return grpc::GenericSerialize<grpc::ProtoBufferWriter, M>(msg, out, &own_buffer);
}

// A request of `size` bytes over `backend`'s MaxRequestBytes: the 413 it
// gets (naming the size and the limit), else nullopt.
std::optional<common::Status> TooLarge(size_t size, const taskcred::logical::Backend& backend);

// After a request of a megabyte or more has been handled: hands the heap's
// free pages back to the kernel (the received bytes arrive in many small
// slices that the fixed mmap threshold of serve.cc does not cover). A trim
// costs well under a millisecond here, small beside receiving a megabyte.
void TrimAfterLargeRequest(size_t received);

// Frees a string's memory (clear() keeps the capacity).
inline void Release(std::string* s) { std::string().swap(*s); }

}  // namespace taskcred::runtime
