// PVF_HOST_DEVICE marks math shared by the CPU and CUDA kernels, so the CPU tests exercise the
// exact arithmetic the GPU runs.
#pragma once

#if defined(__CUDACC__)
#define PVF_HOST_DEVICE __host__ __device__
#else
#define PVF_HOST_DEVICE
#endif
