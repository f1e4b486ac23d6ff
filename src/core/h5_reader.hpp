#pragma once
// Read-only access to prism HDF5 files (restart from checkpoints).
#include <cstdint>
#include <string>
#include <vector>

#include "core/h5_types.hpp"

namespace prism {

class H5Reader {
 public:
  explicit H5Reader(const std::string& path);  // throws std::runtime_error naming the file
  ~H5Reader();
  H5Reader(const H5Reader&) = delete;
  H5Reader& operator=(const H5Reader&) = delete;

  const std::string& path() const { return path_; }
  bool exists(const std::string& path) const;
  // A dataset's values converted to T (any type h5_element knows).
  template <class T>
  std::vector<T> values(const std::string& path) const {
    std::vector<T> out(extent(path));
    read_raw(path, h5_element<T>::value, out.data(), out.size());
    return out;
  }
  std::int64_t int64_attribute(const std::string& object, const std::string& name) const;
  bool has_attribute(const std::string& object, const std::string& name) const;
  // Fixed- or variable-length (as h5py writes them) string attributes.
  std::string string_attribute(const std::string& object, const std::string& name) const;
  double double_attribute(const std::string& object, const std::string& name) const;
  // Every element of an integer attribute, scalar or array, converted to int64.
  std::vector<std::int64_t> int64_array_attribute(const std::string& object, const std::string& name) const;
  // The names of a group's members in ascending name order (HDF5's name index:
  // byte-wise, so "B" before "a"); throws naming the file when `group` is not a group.
  std::vector<std::string> members(const std::string& group) const;

 private:
  std::string path_;
  std::int64_t file_ = -1;
  std::size_t extent(const std::string& path) const;  // number of elements
 public:
  // A dataset's dimensions (throws naming the file when it is missing).
  std::vector<std::uint64_t> shape(const std::string& path) const;

 private:
  void read_raw(const std::string& path, H5Element type, void* out, std::size_t n) const;
};

}  // namespace prism
