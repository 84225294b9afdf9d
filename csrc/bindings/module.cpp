// The private extension pyvidfast._C. Users import pyvidfast.transform etc., never this module.
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace pvf {
bool has_cuda_build() {
#ifdef PYVIDFAST_WITH_CUDA
  return true;
#else
  return false;
#endif
}
}  // namespace pvf

PYBIND11_MODULE(_C, m) {
  m.doc() = "pyvidfast native kernels (private; use the pyvidfast Python API)";
  m.def("has_cuda", &pvf::has_cuda_build, "True when the CUDA kernels were compiled in.");
}
