#include "core/h5_types.hpp"

#include <hdf5.h>

namespace prism {

std::int64_t h5_native_type(H5Element e) {
  switch (e) {
    case H5Element::f64:
      return H5T_NATIVE_DOUBLE;
    case H5Element::f32:
      return H5T_NATIVE_FLOAT;
    case H5Element::i64:
      return H5T_NATIVE_INT64;
    case H5Element::i32:
      return H5T_NATIVE_INT32;
    case H5Element::i8:
      return H5T_NATIVE_INT8;
    case H5Element::u8:
      return H5T_NATIVE_UINT8;
    case H5Element::u64:
      return H5T_NATIVE_UINT64;
  }
  return -1;
}

bool h5_path_exists(std::int64_t file, const std::string& path) {
  std::size_t pos = 0;
  while ((pos = path.find('/', pos + 1)) != std::string::npos)
    if (H5Lexists(file, path.substr(0, pos).c_str(), H5P_DEFAULT) <= 0) return false;
  return H5Lexists(file, path.c_str(), H5P_DEFAULT) > 0;
}

}  // namespace prism
