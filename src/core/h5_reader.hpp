#pragma once
// Read-only access to prism HDF5 files (restart from checkpoints).
#include <cstdint>
#include <string>
#include <vector>

namespace prism {

class H5Reader {
 public:
  explicit H5Reader(const std::string& path);  // throws std::runtime_error naming the file
  ~H5Reader();
  H5Reader(const H5Reader&) = delete;
  H5Reader& operator=(const H5Reader&) = delete;

  bool exists(const std::string& path) const;
  std::vector<double> doubles(const std::string& path) const;
  std::vector<std::int64_t> int64s(const std::string& path) const;
  std::vector<std::int8_t> int8s(const std::string& path) const;
  std::int64_t int64_attribute(const std::string& object, const std::string& name) const;
  bool has_attribute(const std::string& object, const std::string& name) const;
  std::string string_attribute(const std::string& object, const std::string& name) const;

 private:
  std::string path_;
  std::int64_t file_ = -1;
  template <class T>
  std::vector<T> read(const std::string& path, std::int64_t type) const;
};

}  // namespace prism
