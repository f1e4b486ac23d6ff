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

}  // namespace prism
