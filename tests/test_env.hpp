#pragma once
namespace prism {
class MpiContext;
namespace test {
extern MpiContext* world;  // set by test_main_mpi.cpp
}
}  // namespace prism
