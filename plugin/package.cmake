# Release artefacts (docs/release.md). Included by the top-level
# CMakeLists.txt when the release executables link statically.
#
# release/: each released executable stripped, with its debug info beside it
# (<name>.debug, found by gdb through the build-id or the .gnu_debuglink the
# stripped file carries). Built with every build: objcopy takes a second.
# The `release` install component puts them where a Debian package does, and
# CPack turns it into taskcred_<version>_amd64.deb (scripts/package.sh runs
# it, then writes the tarballs and SHA256SUMS).
set(TASKCRED_RELEASE_DIR ${PROJECT_BINARY_DIR}/release)
set(TASKCRED_RELEASED taskcred taskcred-verify taskcred-authz)
set(_release_outputs "")
foreach(exe IN LISTS TASKCRED_RELEASED)
  set(out ${TASKCRED_RELEASE_DIR}/${exe})
  add_custom_command(
    OUTPUT ${out} ${out}.debug
    COMMAND ${CMAKE_COMMAND} -E make_directory ${TASKCRED_RELEASE_DIR}
    COMMAND ${CMAKE_OBJCOPY} --only-keep-debug $<TARGET_FILE:${exe}> ${out}.debug
    COMMAND ${CMAKE_OBJCOPY} --strip-all --add-gnu-debuglink=${out}.debug $<TARGET_FILE:${exe}> ${out}
    DEPENDS ${exe}
    COMMENT "release/${exe}: stripped, debug info in ${exe}.debug"
    VERBATIM)
  list(APPEND _release_outputs ${out} ${out}.debug)
endforeach()
add_custom_target(release_binaries ALL DEPENDS ${_release_outputs})

# The plugin goes into a directory of its own that a server's
# plugin_directory can point at; the verifier tools on PATH.
install(PROGRAMS ${TASKCRED_RELEASE_DIR}/taskcred DESTINATION lib/vault/plugins COMPONENT release)
install(PROGRAMS ${TASKCRED_RELEASE_DIR}/taskcred-verify ${TASKCRED_RELEASE_DIR}/taskcred-authz
        DESTINATION bin COMPONENT release)
install(PROGRAMS ${PROJECT_SOURCE_DIR}/scripts/register.sh DESTINATION bin RENAME taskcred-register
        COMPONENT release)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/BENCHMARKS.md
        DESTINATION share/doc/taskcred COMPONENT release)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION share/doc/taskcred/docs COMPONENT release
        FILES_MATCHING PATTERN "*.md")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/ DESTINATION share/doc/taskcred/examples COMPONENT release)

# CPack installs the `release` component only; without this it would first
# build every target (tests included). Install needs a build before it.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

set(CPACK_PACKAGE_NAME taskcred)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "taskcred")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Vault/OpenBao secrets engine plugin issuing task-scoped credentials")
set(CPACK_PACKAGE_DESCRIPTION
    "taskcred issues a credential for one run of one task, bounded by the task's resource grants and TTL, inside a Vault lease. The plugin binary is static; taskcred-verify and taskcred-authz check credentials for resource services.")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL release)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_DEBIAN_FILE_NAME taskcred_${PROJECT_VERSION}_amd64.deb)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE amd64)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "taskcred maintainers <taskcred@localhost>")
# Static executables: no shared-library dependencies to declare.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "")
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/package)
set(CPACK_OUTPUT_CONFIG_FILE ${PROJECT_BINARY_DIR}/CPackConfig.cmake)
include(CPack)
