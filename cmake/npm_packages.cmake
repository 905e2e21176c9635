# npm_packages.cmake — medgate_npm_packages(): the build step that installs a folder's pinned npm packages; and
# medgate_require_node(): node and npm found on the host, or a clear stop.
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

# medgate_require_node(FOR <what needs it> OPTION <the option that turns it off>)
#
# Finds node and npm on the host (MEDGATE_NODE_EXECUTABLE, MEDGATE_NPM_EXECUTABLE; node runs on the host in
# every preset, the Emscripten one included) and stops with a message naming <what> and <option> when either
# is missing or node is older than 18.
function(medgate_require_node)
  cmake_parse_arguments(arg "" "FOR;OPTION" "" ${ARGN})
  find_program(MEDGATE_NODE_EXECUTABLE NAMES node nodejs NO_CMAKE_FIND_ROOT_PATH DOC "node, run on the host to build data")
  find_program(MEDGATE_NPM_EXECUTABLE NAMES npm NO_CMAKE_FIND_ROOT_PATH DOC "npm, to fetch pinned packages")
  if(NOT MEDGATE_NODE_EXECUTABLE OR NOT MEDGATE_NPM_EXECUTABLE)
    message(FATAL_ERROR "medgate: ${arg_FOR} needs node (>= 18) and npm on the host (scripts/setup.sh installs "
                        "them); or configure with -D${arg_OPTION}=OFF to build without it.")
  endif()
  execute_process(COMMAND "${MEDGATE_NODE_EXECUTABLE}" --version OUTPUT_VARIABLE version
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  string(REGEX REPLACE "^v" "" version "${version}")
  if(version VERSION_LESS 18)
    message(FATAL_ERROR "medgate: ${arg_FOR} needs node >= 18, ${MEDGATE_NODE_EXECUTABLE} is ${version}")
  endif()
endfunction()
