#include "core/h5_writer.hpp"

#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace prism {

namespace {
template <class T>
T checked(T rc, const std::string& what) {
  if (rc < 0) throw std::runtime_error("HDF5 error: " + what);
  return rc;
}
std::string parent_of(const std::string& path) {
  const auto pos = path.rfind('/');
  return pos == std::string::npos || pos == 0 ? "/" : path.substr(0, pos);
}
}  // namespace

H5Writer::H5Writer(std::string final_path) : final_(std::move(final_path)), tmp_(final_ + ".tmp") {
  // HDF5 would follow a symbolic link at the .tmp path and truncate its target.
  struct stat st {};
  if (::lstat(tmp_.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
    throw std::runtime_error("'" + tmp_ + "' is a symbolic link; refusing to write through it");
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors are reported by our checks
  // 1.8+ object format: attributes beyond 64 KiB (long decks) go to dense storage.
  const hid_t fapl = checked<hid_t>(H5Pcreate(H5P_FILE_ACCESS), "file access list");
  H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
#if H5_VERSION_GE(1, 10, 7)
  // prism already holds a lock on PATH.tmp; HDF5's own flock() lock would
  // conflict with it where flock is emulated by fcntl (NFS).
  H5Pset_file_locking(fapl, false, true);
#endif
  file_ = H5Fcreate(tmp_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  checked<hid_t>(file_, "cannot create " + tmp_);
}

H5Writer::~H5Writer() {
  if (file_ >= 0) {
    H5Fclose(file_);
    std::remove(tmp_.c_str());
  }
}

bool H5Writer::exists(const std::string& path) const {
  return h5_path_exists(file_, path);
}

void H5Writer::group(const std::string& path) {
  if (path.empty() || path == "/") return;
  if (H5Lexists(file_, path.c_str(), H5P_DEFAULT) > 0) return;
  group(parent_of(path));
  const hid_t g = checked<hid_t>(H5Gcreate2(file_, path.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                 "create group " + path);
  checked(H5Gclose(g), "close group " + path);
}

void H5Writer::write_raw(const std::string& path, H5Element element, const void* data, std::size_t n,
                         const std::vector<std::uint64_t>& dims_in) {
  const hid_t type = h5_native_type(element);
  group(parent_of(path));
  std::vector<hsize_t> dims(dims_in.begin(), dims_in.end());
  if (dims.empty()) dims.push_back(n);
  hsize_t total = 1;
  for (auto d : dims) total *= d;
  if (total != n) throw std::runtime_error("HDF5 write " + path + ": dims do not match data size");
  const hid_t space = checked<hid_t>(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                                     "dataspace for " + path);
  const hid_t dset = H5Dcreate2(file_, path.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (dset < 0) {
    H5Sclose(space);
    throw std::runtime_error("HDF5 error: create dataset " + path);
  }
  const herr_t rc = n ? H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
  H5Dclose(dset);
  H5Sclose(space);
  checked(rc, "write dataset " + path);
}

void H5Writer::write_scalar(const std::string& path, double value) {
  group(parent_of(path));
  const hid_t space = checked<hid_t>(H5Screate(H5S_SCALAR), "scalar space");
  const hid_t dset =
      H5Dcreate2(file_, path.c_str(), H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  herr_t rc = -1;
  if (dset >= 0) {
    rc = H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value);
    H5Dclose(dset);
  }
  H5Sclose(space);
  checked(rc, "write scalar " + path);
}

namespace {
void put_attribute(hid_t file, const std::string& object, const std::string& name, hid_t type,
                   const void* data) {
  const hid_t obj = checked<hid_t>(H5Oopen(file, object.c_str(), H5P_DEFAULT), "open " + object);
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t attr = H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t rc = -1;
  if (attr >= 0) {
    rc = H5Awrite(attr, type, data);
    H5Aclose(attr);
  }
  H5Sclose(space);
  H5Oclose(obj);
  checked(rc, "attribute " + object + ":" + name);
}
}  // namespace

void H5Writer::attribute(const std::string& object, const std::string& name, const std::string& value) {
  group(object);
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, value.empty() ? 1 : value.size());
  H5Tset_cset(type, H5T_CSET_UTF8);
  const char* data = value.empty() ? "" : value.c_str();
  try {
    put_attribute(file_, object, name, type, data);
  } catch (...) {
    H5Tclose(type);
    throw;
  }
  H5Tclose(type);
}
void H5Writer::write_attribute(const std::string& object, const std::string& name, H5Element type,
                               const void* value) {
  group(object);
  put_attribute(file_, object, name, h5_native_type(type), value);
}

void H5Writer::commit(bool overwrite) {
  checked(H5Fflush(file_, H5F_SCOPE_GLOBAL), "flush " + tmp_);
  const herr_t rc = H5Fclose(file_);
  file_ = -1;
  if (rc < 0) {
    std::remove(tmp_.c_str());
    throw std::runtime_error("HDF5 error: close " + tmp_);
  }
  // Data on disk before the name points at it: a node crash then leaves
  // either the old file or the complete new one.
  if (const int fd = ::open(tmp_.c_str(), O_RDONLY); fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  int moved;
  if (overwrite) {
    moved = ::rename(tmp_.c_str(), final_.c_str());  // atomic on one file system
  } else {
    // Never replace a file that appeared while we ran.
    moved = ::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, final_.c_str(), RENAME_NOREPLACE);
    if (moved != 0 && (errno == EINVAL || errno == ENOSYS)) {
      // File systems without RENAME_NOREPLACE: a hard link also refuses to replace.
      moved = ::link(tmp_.c_str(), final_.c_str());
      if (moved == 0) ::unlink(tmp_.c_str());
    }
  }
  if (moved != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp_.c_str());
    throw std::runtime_error("cannot rename " + tmp_ + " to " + final_ + ": " + why);
  }
  const auto dir = std::filesystem::path(final_).parent_path();
  if (const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace prism
