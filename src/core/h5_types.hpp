#pragma once
// The element types prism stores in HDF5, named without including hdf5.h:
// h5_element<T>::value maps a C++ type to one of them, and the writer and
// reader turn that into the native HDF5 type in one place (h5_types.cpp).
#include <cstdint>
#include <string>
#include <type_traits>

namespace prism {

enum class H5Element { f64, f32, i64, i32, i8, u8, u64 };

template <class T>
struct h5_element;  // undefined: a type prism does not store
template <>
struct h5_element<double> : std::integral_constant<H5Element, H5Element::f64> {};
template <>
struct h5_element<float> : std::integral_constant<H5Element, H5Element::f32> {};
template <>
struct h5_element<std::int64_t> : std::integral_constant<H5Element, H5Element::i64> {};
template <>
struct h5_element<std::int32_t> : std::integral_constant<H5Element, H5Element::i32> {};
template <>
struct h5_element<std::int8_t> : std::integral_constant<H5Element, H5Element::i8> {};
template <>
struct h5_element<std::uint8_t> : std::integral_constant<H5Element, H5Element::u8> {};
template <>
struct h5_element<std::uint64_t> : std::integral_constant<H5Element, H5Element::u64> {};

// The native HDF5 type id (hid_t) of an element type.
std::int64_t h5_native_type(H5Element e);
// Whether `path` names an object in the open file (hid_t) `file`; every
// component is checked, so a missing group is an answer, not an error.
bool h5_path_exists(std::int64_t file, const std::string& path);

}  // namespace prism
