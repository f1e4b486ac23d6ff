#include "core/stop_signal.hpp"

#include <unistd.h>

#include <csignal>
#include <cstring>

namespace prism {

namespace {
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int sig) {
  g_stop_signal = sig;
}
}  // namespace

void install_stop_handlers() {
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGUSR1, on_stop_signal);
}

namespace {
char g_cleanup_path[4096] = {};
extern "C" void on_cleanup_signal(int sig) {
  if (g_cleanup_path[0]) ::unlink(g_cleanup_path);  // async-signal-safe
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}
}  // namespace

void install_cleanup_handlers(const std::string& tmp_path) {
  if (tmp_path.size() < sizeof g_cleanup_path)
    std::memcpy(g_cleanup_path, tmp_path.c_str(), tmp_path.size() + 1);
  for (int sig : {SIGTERM, SIGUSR1, SIGINT}) std::signal(sig, on_cleanup_signal);
}

int stop_signal() {
  return g_stop_signal;
}

}  // namespace prism
