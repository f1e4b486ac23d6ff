# Writes OUTPUT (prism/version.hpp) from SOURCE_DIR/src/core/version.hpp.in
# with the version and `git describe` of the source tree, "-dirty" when
# tracked files differ from the commit.  Run with `cmake -P` at every build
# (the prism_version target), so that a binary names the commit it was built
# from, not the one its build directory was configured at; the header is
# replaced only when its text changes, so an unchanged commit recompiles
# nothing.
execute_process(COMMAND git describe --always --dirty --abbrev=12 --exclude=* WORKING_DIRECTORY ${SOURCE_DIR}
                OUTPUT_VARIABLE PRISM_GIT_HASH OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT PRISM_GIT_HASH)
  set(PRISM_GIT_HASH "unknown")
endif()
configure_file(${SOURCE_DIR}/src/core/version.hpp.in ${OUTPUT}.new @ONLY)
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUTPUT}.new ${OUTPUT})
file(REMOVE ${OUTPUT}.new)
