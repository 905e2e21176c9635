# wasm/print_size.cmake — prints the size of the built module: cmake -DWASM_FILE=<medgate.wasm> -P print_size.cmake
file(SIZE "${WASM_FILE}" raw_bytes)
set(gz "${WASM_FILE}.size-check.gz")
file(ARCHIVE_CREATE OUTPUT "${gz}" PATHS "${WASM_FILE}" FORMAT raw COMPRESSION GZip)
file(SIZE "${gz}" gz_bytes)
file(REMOVE "${gz}")
math(EXPR raw_kb "(${raw_bytes} + 512) / 1024")
math(EXPR gz_kb "(${gz_bytes} + 512) / 1024")
message(STATUS "medgate.wasm: ${raw_bytes} bytes (${raw_kb} KB), gzip ${gz_bytes} bytes (${gz_kb} KB)")
