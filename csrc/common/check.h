// Argument checks that throw typed exceptions; never exit() or abort() inside a library.
// std::invalid_argument reaches Python as ValueError, std::runtime_error as RuntimeError.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace pvf {

template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

}  // namespace pvf

// PVF_CHECK(cond, "frames must be 4-D, got ", ndim): throws std::invalid_argument.
#define PVF_CHECK(cond, ...)                                                      \
  do {                                                                            \
    if (!(cond)) {                                                                \
      throw std::invalid_argument(::pvf::str_cat(__VA_ARGS__, " [", #cond, "]")); \
    }                                                                             \
  } while (0)

// PVF_CHECK_RUNTIME: a failure that is not the caller's argument (allocation, driver).
#define PVF_CHECK_RUNTIME(cond, ...)                         \
  do {                                                       \
    if (!(cond)) {                                           \
      throw std::runtime_error(::pvf::str_cat(__VA_ARGS__)); \
    }                                                        \
  } while (0)
