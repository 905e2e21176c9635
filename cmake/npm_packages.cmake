# npm_packages.cmake — medgate_npm_packages(): the build step that installs a folder's pinned npm packages.
#
#   medgate_npm_packages(DIR <folder with package.json and package-lock.json> LABEL <name in messages>
#                        COMMENT <what is installed> [HINT <what to do without the registry>] STAMP <out-var>)
#
# Adds a custom command running cmake/npm_ci.cmake (`npm ci`, skipped when another build directory already
# installed node_modules from the current lockfile) and sets <out-var> to its output, a stamp inside
# node_modules, for other commands to depend on. Needs MEDGATE_NPM_EXECUTABLE.
function(medgate_npm_packages)
  cmake_parse_arguments(arg "" "DIR;LABEL;COMMENT;HINT;STAMP" "" ${ARGN})
  set(stamp ${arg_DIR}/node_modules/.medgate-npm-ci.stamp)
  add_custom_command(
    OUTPUT ${stamp}
    COMMAND ${CMAKE_COMMAND} -DNPM=${MEDGATE_NPM_EXECUTABLE} -DDIR=${arg_DIR} -DSTAMP=${stamp} -DLABEL=${arg_LABEL}
            "-DHINT=${arg_HINT}" -P ${PROJECT_SOURCE_DIR}/cmake/npm_ci.cmake
    DEPENDS ${arg_DIR}/package.json ${arg_DIR}/package-lock.json ${PROJECT_SOURCE_DIR}/cmake/npm_ci.cmake
    COMMENT "${arg_COMMENT}"
    VERBATIM)
  set(${arg_STAMP} ${stamp} PARENT_SCOPE)
endfunction()
