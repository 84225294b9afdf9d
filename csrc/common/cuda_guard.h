// Shared by every CUDA launcher: error check that throws, and a guard that restores the caller's
// current device on scope exit (the stream we launch on belongs to `device`). CUDA builds only.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "common/check.h"

namespace pvf {

inline void check_cuda(cudaError_t err, const char* where, const char* what) {
  PVF_CHECK_RUNTIME(err == cudaSuccess, "CUDA error in ", where, " (", what,
                    "): ", cudaGetErrorString(err));
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    check_cuda(cudaGetDevice(&previous_), "DeviceGuard", "cudaGetDevice");
    if (device != previous_) check_cuda(cudaSetDevice(device), "DeviceGuard", "cudaSetDevice");
  }
  ~DeviceGuard() { cudaSetDevice(previous_); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace pvf
