#include "core/checkpoint.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "core/deck.hpp"
#include "core/h5_reader.hpp"
#include "core/workload.hpp"

namespace prism {

namespace {
constexpr const char* kFormat = "prism checkpoint 2\n";
}

std::string checkpoint_fingerprint(const Deck& deck, const Workload& w, std::uint64_t seed) {
  std::string text = kFormat;
  text += "run.seed = " + std::to_string(seed) + "\n";
  const std::string settings = deck.effective_settings(w.name(), w.restart_free_keys());
  std::size_t start = 0;
  while (start < settings.size()) {
    const std::size_t end = settings.find('\n', start);
    text += w.name() + "." + settings.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return text;
}

std::unique_ptr<H5Reader> open_checkpoint(const std::string& path, const Workload& w,
                                          const std::string& fingerprint) {
  auto in = std::make_unique<H5Reader>(path);
  const std::string group = "/" + w.name(), k = group + "/checkpoint";
  if (!in->exists(k)) throw std::runtime_error(path + ": no " + k + " to restart from");
  if (in->has_attribute(group, "error"))
    throw std::runtime_error(path + ": that run stopped on an error (" +
                             in->string_attribute(group, "error") + "); it cannot be continued");
  if (!in->has_attribute(k, "fingerprint"))
    throw std::runtime_error(path + ": " + k + " has no fingerprint; it cannot be continued");
  const std::string stored = in->string_attribute(k, "fingerprint");
  if (stored.rfind(kFormat, 0) != 0)
    throw std::runtime_error(path +
                             ": the checkpoint was written by an older prism; it cannot be continued by "
                             "this version");
  if (stored != fingerprint) {
    // Name the settings that differ, one per line.
    std::string differences;
    auto lines = [](const std::string& s) {
      std::vector<std::string> out;
      std::size_t start = 0;
      while (start < s.size()) {
        const std::size_t end = s.find('\n', start);
        out.push_back(s.substr(start, end - start));
        start = end == std::string::npos ? s.size() : end + 1;
      }
      return out;
    };
    const auto a = lines(stored), b = lines(fingerprint);
    for (const auto& l : a)
      if (std::find(b.begin(), b.end(), l) == b.end()) differences += "\n  checkpoint: " + l;
    for (const auto& l : b)
      if (std::find(a.begin(), a.end(), l) == a.end()) differences += "\n  this deck:  " + l;
    std::string free;
    for (const auto& key : w.restart_free_keys()) free += (free.empty() ? "" : ", ") + w.name() + "." + key;
    throw std::runtime_error(path + ": the checkpoint was made with other settings" +
                             (free.empty() ? std::string() : "; only " + free + " may change on restart") +
                             differences);
  }
  return in;
}

}  // namespace prism
