cmake_minimum_required(VERSION 3.25)
# Fails (and so fails the build of the tiller CLI) when a file under tools/ includes anything
# that is not a public header (tiller.h, tiller/*.h), a header of tools/ itself, or a system
# header: the CLI is a client of the public API (docs/ARCHITECTURE.md, "The public API").
# Run: cmake -DROOT=<repo> -P scripts/check_tools_api.cmake
file(GLOB modules LIST_DIRECTORIES true RELATIVE ${ROOT}/src ${ROOT}/src/*)
file(GLOB tool_files ${ROOT}/tools/*.c ${ROOT}/tools/*.h ${ROOT}/tools/*.def)
set(bad "")
foreach(f ${tool_files})
  file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include")
  foreach(l ${lines})
    if(l MATCHES "#[ \t]*include[ \t]*\"([^\"]+)\"")
      set(inc ${CMAKE_MATCH_1})
      get_filename_component(dir ${f} DIRECTORY)
      if(inc MATCHES "^tiller(/[a-z_0-9]+)?\\.h$" AND EXISTS ${ROOT}/include/${inc})
        # public
      elseif(NOT inc MATCHES "/" AND EXISTS ${dir}/${inc})
        # a tools/ header (cli.h, commands.def, ...)
      else()
        string(APPEND bad "  ${f}: #include \"${inc}\"\n")
      endif()
    elseif(l MATCHES "#[ \t]*include[ \t]*<([^>]+)>")
      set(inc ${CMAKE_MATCH_1})
      string(REGEX MATCH "^[^/]+" first ${inc})
      if(first IN_LIST modules OR inc MATCHES "\\.\\./")
        string(APPEND bad "  ${f}: #include <${inc}>\n")
      endif()
    endif()
  endforeach()
endforeach()
if(bad)
  message(FATAL_ERROR "tools/ may include only the public headers (include/tiller.h, include/tiller/*.h), "
                      "tools/ headers and system headers; a command that needs more gets it into "
                      "include/tiller/ first (docs/ARCHITECTURE.md, \"The public API\"):\n${bad}")
endif()
