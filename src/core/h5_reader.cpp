#include "core/h5_reader.hpp"

#include <hdf5.h>

#include <stdexcept>

namespace prism {

H5Reader::H5Reader(const std::string& path) : path_(path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file_ < 0) throw std::runtime_error(path + ": cannot open as HDF5");
}

H5Reader::~H5Reader() {
  if (file_ >= 0) H5Fclose(file_);
}

bool H5Reader::exists(const std::string& path) const {
  return h5_path_exists(file_, path);
}

std::size_t H5Reader::extent(const std::string& path) const {
  if (!exists(path)) throw std::runtime_error(path_ + ": missing dataset " + path);
  const hid_t d = H5Dopen2(file_, path.c_str(), H5P_DEFAULT);
  if (d < 0) throw std::runtime_error(path_ + ": cannot open " + path);
  const hid_t space = H5Dget_space(d);
  const hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
  if (space >= 0) H5Sclose(space);
  H5Dclose(d);
  if (n < 0) throw std::runtime_error(path_ + ": cannot read the shape of " + path);
  return static_cast<std::size_t>(n);
}

std::vector<std::uint64_t> H5Reader::shape(const std::string& path) const {
  if (!exists(path)) throw std::runtime_error(path_ + ": missing dataset " + path);
  const hid_t d = H5Dopen2(file_, path.c_str(), H5P_DEFAULT);
  if (d < 0) throw std::runtime_error(path_ + ": cannot open " + path);
  const hid_t space = H5Dget_space(d);
  const int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
  std::vector<hsize_t> dims(rank > 0 ? rank : 0);
  if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  if (space >= 0) H5Sclose(space);
  H5Dclose(d);
  if (rank < 0) throw std::runtime_error(path_ + ": cannot read the shape of " + path);
  return std::vector<std::uint64_t>(dims.begin(), dims.end());
}

void H5Reader::read_raw(const std::string& path, H5Element type, void* out, std::size_t n) const {
  const hid_t d = H5Dopen2(file_, path.c_str(), H5P_DEFAULT);
  if (d < 0) throw std::runtime_error(path_ + ": cannot open " + path);
  const herr_t rc = n > 0 ? H5Dread(d, h5_native_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) : 0;
  H5Dclose(d);
  if (rc < 0) throw std::runtime_error(path_ + ": cannot read " + path);
}

std::int64_t H5Reader::int64_attribute(const std::string& object, const std::string& name) const {
  if (!exists(object) && object != "/") throw std::runtime_error(path_ + ": missing " + object);
  const hid_t a = H5Aopen_by_name(file_, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) throw std::runtime_error(path_ + ": missing attribute " + object + ":" + name);
  std::int64_t v = 0;
  const herr_t rc = H5Aread(a, H5T_NATIVE_INT64, &v);
  H5Aclose(a);
  if (rc < 0) throw std::runtime_error(path_ + ": cannot read attribute " + object + ":" + name);
  return v;
}

bool H5Reader::has_attribute(const std::string& object, const std::string& name) const {
  return (object == "/" || exists(object)) &&
         H5Aexists_by_name(file_, object.c_str(), name.c_str(), H5P_DEFAULT) > 0;
}

std::string H5Reader::string_attribute(const std::string& object, const std::string& name) const {
  if (!has_attribute(object, name))
    throw std::runtime_error(path_ + ": missing attribute " + object + ":" + name);
  const hid_t a = H5Aopen_by_name(file_, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  const hid_t type = H5Aget_type(a);
  const std::size_t size = H5Tget_size(type);
  std::string out(size, '\0');
  // prism writes fixed-length strings; read with the stored type (no conversion).
  const herr_t rc = H5Tis_variable_str(type) > 0 ? -1 : H5Aread(a, type, out.data());
  H5Tclose(type);
  H5Aclose(a);
  if (rc < 0) throw std::runtime_error(path_ + ": cannot read attribute " + object + ":" + name);
  while (!out.empty() && out.back() == '\0') out.pop_back();
  return out;
}

}  // namespace prism
