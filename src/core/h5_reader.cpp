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

namespace {
// Every element of a numeric attribute converted to `type`, sized from the
// stored extent so that an array attribute cannot overrun the buffer.
template <class T>
std::vector<T> numeric_attribute(hid_t file, const std::string& path, const std::string& object,
                                 const std::string& name, hid_t type) {
  const hid_t a = H5Aopen_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) throw std::runtime_error(path + ": cannot open attribute " + object + ":" + name);
  const hid_t space = H5Aget_space(a);
  const hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
  if (space >= 0) H5Sclose(space);
  std::vector<T> out(n > 0 ? std::size_t(n) : 0);
  const herr_t rc = n < 0 ? -1 : n == 0 ? 0 : H5Aread(a, type, out.data());
  H5Aclose(a);
  if (rc < 0) throw std::runtime_error(path + ": cannot read attribute " + object + ":" + name);
  return out;
}
}  // namespace

std::int64_t H5Reader::int64_attribute(const std::string& object, const std::string& name) const {
  if (!exists(object) && object != "/") throw std::runtime_error(path_ + ": missing " + object);
  if (!has_attribute(object, name))
    throw std::runtime_error(path_ + ": missing attribute " + object + ":" + name);
  // Read by its stored extent: an array attribute must not overrun one number.
  const auto v = numeric_attribute<std::int64_t>(file_, path_, object, name, H5T_NATIVE_INT64);
  if (v.size() != 1)
    throw std::runtime_error(path_ + ": attribute " + object + ":" + name + " is not one number");
  return v[0];
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
  herr_t rc = -1;
  if (H5Tis_variable_str(type) > 0) {
    // h5py writes Python str attributes as variable-length strings.
    char* text = nullptr;
    const hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, H5T_VARIABLE);
    H5Tset_cset(mem, H5Tget_cset(type));
    rc = H5Aread(a, mem, &text);
    out = rc >= 0 && text ? std::string(text) : std::string();
    if (text) H5free_memory(text);
    H5Tclose(mem);
  } else {
    // prism writes fixed-length strings; read with the stored type (no conversion).
    rc = H5Aread(a, type, out.data());
  }
  H5Tclose(type);
  H5Aclose(a);
  if (rc < 0) throw std::runtime_error(path_ + ": cannot read attribute " + object + ":" + name);
  while (!out.empty() && out.back() == '\0') out.pop_back();
  return out;
}

double H5Reader::double_attribute(const std::string& object, const std::string& name) const {
  if (!has_attribute(object, name))
    throw std::runtime_error(path_ + ": missing attribute " + object + ":" + name);
  const auto v = numeric_attribute<double>(file_, path_, object, name, H5T_NATIVE_DOUBLE);
  if (v.size() != 1)
    throw std::runtime_error(path_ + ": attribute " + object + ":" + name + " is not one number");
  return v[0];
}

std::vector<std::int64_t> H5Reader::int64_array_attribute(const std::string& object,
                                                          const std::string& name) const {
  if (!has_attribute(object, name))
    throw std::runtime_error(path_ + ": missing attribute " + object + ":" + name);
  return numeric_attribute<std::int64_t>(file_, path_, object, name, H5T_NATIVE_INT64);
}

std::vector<std::string> H5Reader::members(const std::string& group) const {
  if (group != "/" && !exists(group)) throw std::runtime_error(path_ + ": missing group " + group);
  const hid_t g = H5Gopen2(file_, group.c_str(), H5P_DEFAULT);
  if (g < 0) throw std::runtime_error(path_ + ": " + group + " is not a group");
  H5G_info_t info;
  if (H5Gget_info(g, &info) < 0) {
    H5Gclose(g);
    throw std::runtime_error(path_ + ": cannot list " + group);
  }
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    // First call sizes the name, second fills it; the name index gives a
    // stable order whatever the creation order was.
    const ssize_t len = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    std::string name(len > 0 ? std::size_t(len) : 0, '\0');
    const ssize_t got = len > 0 ? H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(),
                                                     name.size() + 1, H5P_DEFAULT)
                                : -1;
    if (got != len) {
      H5Gclose(g);
      throw std::runtime_error(path_ + ": cannot list " + group);
    }
    names.push_back(std::move(name));
  }
  H5Gclose(g);
  return names;
}

}  // namespace prism
