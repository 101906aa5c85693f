# Writes OUT (a header defining TASKCRED_GIT_COMMIT) from the git checkout at
# SOURCE_DIR: the commit, with "-dirty" when tracked files differ from it;
# "unknown" outside a checkout. TASKCRED_GIT_COMMIT in the environment wins
# (a package built from a source tarball). The file is only rewritten when its
# text changes, so an unchanged commit relinks nothing.
if(DEFINED ENV{TASKCRED_GIT_COMMIT})
  set(commit "$ENV{TASKCRED_GIT_COMMIT}")
else()
  execute_process(COMMAND git -C "${SOURCE_DIR}" rev-parse --short=12 HEAD
                  OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE rc ERROR_QUIET)
  if(NOT rc EQUAL 0 OR commit STREQUAL "")
    set(commit "unknown")
  else()
    execute_process(COMMAND git -C "${SOURCE_DIR}" diff --quiet HEAD --
                    RESULT_VARIABLE dirty ERROR_QUIET)
    if(NOT dirty EQUAL 0)
      string(APPEND commit "-dirty")
    endif()
  endif()
endif()
set(text "#define TASKCRED_GIT_COMMIT \"${commit}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT "${old}" STREQUAL "${text}")
  file(WRITE "${OUT}" "${text}")
endif()
