#pragma once
// Minimal HDF5 writer used by rank 0.  Writes to PATH.tmp and renames to PATH
// on commit(), so a killed run never leaves a truncated file at PATH nor
// touches an earlier result.  Every HDF5 call is checked.
#include <cstdint>
#include <string>
#include <vector>

#include "core/h5_types.hpp"

namespace prism {

class H5Writer {
 public:
  explicit H5Writer(std::string final_path);
  ~H5Writer();  // closes and removes the .tmp file if commit() was not reached
  H5Writer(const H5Writer&) = delete;
  H5Writer& operator=(const H5Writer&) = delete;

  void group(const std::string& path);  // creates intermediate groups too
  bool exists(const std::string& path) const;
  // A dataset of any element type h5_element knows; dims default to 1-D.
  template <class T>
  void write(const std::string& path, const std::vector<T>& data,
             const std::vector<std::uint64_t>& dims = {}) {
    write_raw(path, h5_element<T>::value, data.data(), data.size(), dims);
  }
  void write_scalar(const std::string& path, double value);
  void attribute(const std::string& object, const std::string& name, const std::string& value);
  void attribute(const std::string& object, const std::string& name, const char* value) {
    attribute(object, name, std::string(value));
  }
  template <class T>
  void attribute(const std::string& object, const std::string& name, T value) {
    static_assert(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>, "numeric attributes only");
    write_attribute(object, name, h5_element<T>::value, &value);
  }
  // Flush, close, fsync, rename PATH.tmp -> PATH.  Without `overwrite` the
  // rename fails if PATH exists by then.
  void commit(bool overwrite);

  const std::string& tmp_path() const { return tmp_; }

 private:
  std::string final_, tmp_;
  std::int64_t file_ = -1;
  void write_raw(const std::string& path, H5Element type, const void* data, std::size_t n,
                 const std::vector<std::uint64_t>& dims);
  void write_attribute(const std::string& object, const std::string& name, H5Element type, const void* value);
};

}  // namespace prism
