# npm_ci.cmake: installs DIR/node_modules from DIR's lockfile, unless it is already installed from it.
#
# Why a script and not a bare `npm ci` command: several build directories (native, asan, wasm, fuzz) share
# the one source-tree node_modules. Each runs this step once; only the first (or any run after the lockfile
# changed, or after node_modules was deleted) really installs, so one build never deletes node_modules
# while another is reading it.
#
# Usage: cmake -DNPM=/usr/bin/npm -DDIR=<source>/tokens -DSTAMP=<DIR>/node_modules/.medgate-npm-ci.stamp
#              -DLABEL=tokens [-DHINT="what to do without the registry"] -P npm_ci.cmake

foreach(var NPM DIR STAMP LABEL)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "npm_ci.cmake: ${var} is not set")
  endif()
endforeach()

set(fresh OFF)
if(EXISTS "${STAMP}")
  set(fresh ON)
  foreach(input package.json package-lock.json)
    # IS_NEWER_THAN is also true when the times are equal: then reinstall, to be safe.
    if("${DIR}/${input}" IS_NEWER_THAN "${STAMP}")
      set(fresh OFF)
    endif()
  endforeach()
endif()

if(fresh)
  message(STATUS "${LABEL}: node_modules already installed from the current package-lock.json")
  return()
endif()

message(STATUS "${LABEL}: npm ci in ${DIR}")
execute_process(
  COMMAND "${NPM}" ci --no-audit --no-fund --ignore-scripts
  WORKING_DIRECTORY "${DIR}"
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${LABEL}: `npm ci` failed (${result}) in ${DIR}. It needs the npm registry. ${HINT}")
endif()
file(TOUCH "${STAMP}")
