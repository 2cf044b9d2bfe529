# What `cmake --install` puts under the prefix, for users who build against
# dtask rather than inside it:
#   bin/dtask-scheduler, bin/dtask-worker   the daemons
#   lib/libdtask.so                         the client library (dtask::client)
#   include/dtask/...                       the public headers, and only those
#   lib/cmake/dtask/                        find_package(dtask 0.1 REQUIRED)
# dtask::ops is the op-registration API for plugins (headers only).
# examples/out_of_tree/ is a project built this way; tests/deploy/out_of_tree_test.sh
# installs, builds it and runs it against the installed daemons.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(DTASK_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/dtask)

# Each library's include/ holds its public headers; together they are include/dtask/.
install(DIRECTORY common/include/ ml_core/include/ worker/include/ client/include/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")

set_target_properties(dtask-scheduler PROPERTIES EXPORT_NAME scheduler)
set_target_properties(dtask-worker PROPERTIES EXPORT_NAME worker)
set_target_properties(dtask-adapt PROPERTIES EXPORT_NAME adapt)
install(TARGETS dtask-scheduler dtask-worker dtask-adapt dtask_client_shared dtask_ops
        EXPORT dtaskTargets
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT dtaskTargets NAMESPACE dtask:: DESTINATION ${DTASK_INSTALL_CMAKEDIR})

configure_package_config_file(cmake/dtaskConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/dtaskConfig.cmake
                              INSTALL_DESTINATION ${DTASK_INSTALL_CMAKEDIR})
# 0.x: a new minor version may break the API, so 0.1 accepts 0.1.* only.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/dtaskConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/dtaskConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/dtaskConfigVersion.cmake
        DESTINATION ${DTASK_INSTALL_CMAKEDIR})
