#pragma once
// The input deck: a TOML file plus `--set section.key=value` overrides.
// Every getter records the key as used and validates it; errors are thrown as
// DeckError with the message `DECK:LINE: key 'section.key': rule`.
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace toml {
inline namespace v3 {
class table;
class node;
}  // namespace v3
}  // namespace toml

namespace prism {

struct DeckError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Deck {
 public:
  static Deck from_file(const std::string& path);
  static Deck from_string(const std::string& text, const std::string& name);
  Deck(Deck&&) noexcept;
  Deck& operator=(Deck&&) noexcept;
  ~Deck();

  // "section.key=value"; value is read as TOML, or as a bare string if that fails.
  void apply_override(const std::string& assignment);

  bool has_section(const std::string& section) const;
  bool has(const std::string& section, const std::string& key) const;

  std::int64_t get_int(const std::string& section, const std::string& key,
                       std::optional<std::int64_t> fallback, std::int64_t min, std::int64_t max);
  double get_double(const std::string& section, const std::string& key, std::optional<double> fallback,
                    std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt,
                    bool min_exclusive = false);
  bool get_bool(const std::string& section, const std::string& key, std::optional<bool> fallback);
  std::string get_string(const std::string& section, const std::string& key,
                         std::optional<std::string> fallback, const std::vector<std::string>& choices = {});
  // A file named by a string key: relative paths are relative to the deck's folder.
  std::string get_path(const std::string& section, const std::string& key,
                       std::optional<std::string> fallback);
  // An array of finite numbers (`what` names an entry in the error); the values are recorded.
  std::vector<double> get_numbers(const std::string& section, const std::string& key,
                                  const std::string& what);
  // A rectangular array of finite numbers nested to any depth (a scalar is
  // shape []): its shape, outermost first, and its values row-major.  A
  // ragged or empty array fails naming the key, the index and the rule.
  struct Tensor {
    std::vector<std::uint64_t> shape;
    std::vector<double> values;
  };
  Tensor get_tensor(const std::string& section, const std::string& key);
  // The node itself, for keys whose type is a union (array or table).
  const toml::node* node(const std::string& section, const std::string& key);

  // Rejects sections not in `known` and keys nobody asked for.
  void check_unknown(const std::vector<std::string>& known_sections) const;

  [[noreturn]] void fail(const std::string& section, const std::string& key, const std::string& rule) const;
  // Keys of `section` that exist only under another setting (`condition`,
  // e.g. "order = \"second\""): a deck that gives one of them while the
  // setting is otherwise is told so by check_unknown instead of "unknown key".
  void only_with(const std::string& section, std::initializer_list<const char*> keys,
                 const std::string& condition);
  std::string location(const std::string& section, const std::string& key) const;

  const std::string& path() const { return path_; }
  const std::string& text() const { return text_; }
  std::string resolved() const;  // the deck after overrides, as TOML
  // Every key of `section` read so far, with the value in effect (the
  // deck's, an override's or the default), one "key = value" per line in
  // key order, except the keys in `excluded`.  Two decks that resolve to the
  // same settings give the same text, however they spell them.
  std::string effective_settings(const std::string& section, const std::vector<std::string>& excluded) const;
  // Replaces the recorded value of a key read through node() by the parsed
  // values, so that equivalent spellings ([2, 3], [2.0, 3.0], a {min, max,
  // count} table) fingerprint alike.
  void record_values(const std::string& section, const std::string& key, const std::vector<double>& values);

 private:
  Deck();
  std::string path_;
  std::string text_;
  std::unique_ptr<toml::table> table_;
  std::set<std::string> used_;
  std::map<std::string, std::string> only_with_;  // "section.key" -> the setting it needs
  std::set<std::string> overridden_;
  std::map<std::string, std::string> effective_;  // "section.key" -> value in effect
  void record(const std::string& section, const std::string& key, const std::string& value);
};

}  // namespace prism
