# Install rules and the package config that `find_package(medgate)` reads.
include(CMakePackageConfigHelpers)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/medgate DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS medgate_core medgate_httplib EXPORT medgateTargets)
install(EXPORT medgateTargets NAMESPACE medgate:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/medgate)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/medgateConfig.cmake.in
  ${PROJECT_BINARY_DIR}/medgateConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/medgate)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/medgateConfigVersion.cmake COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES ${PROJECT_BINARY_DIR}/medgateConfig.cmake ${PROJECT_BINARY_DIR}/medgateConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/medgate)
