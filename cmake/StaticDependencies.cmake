# GATEWAY_STATIC_DEPS: link the third-party libraries that Debian also ships as static archives
# (gRPC, protobuf, abseil, OpenSSL, RE2, c-ares, zlib, Boost.JSON/URL) into the executables, so
# that the binaries need only libc, libstdc++, mimalloc and prometheus-cpp at run time.
#
# Why (README "Performance"): a process maps only the code it links instead of every page the
# shared libraries' start-up touches (idle RSS 23 -> 19 MiB), calls into those libraries go
# without the PLT, and their thread-locals without __tls_get_addr (CPU per call about 15 % lower
# on this machine, for the gateway and the benchmark's floor server alike).
#
# Include before the find_package() calls. Boost's CMake package picks its static variant itself;
# the others describe shared libraries (gRPC, abseil, c-ares), or found them once and cached the
# paths (the Find modules of OpenSSL, protobuf and zlib), or come from pkg-config (RE2), so
# gateway_use_static_archives() points their imported targets at the archives that lie beside
# the shared libraries.
set(Boost_USE_STATIC_LIBS ON)

# The static archive beside a shared library (/x/libfoo.so.1.2 -> /x/libfoo.a), or "" if none.
function(_gateway_archive_of shared_library out)
  set(archive "")
  if(shared_library MATCHES "^(.*)/lib([^/]+)\\.so(\\.[0-9.]+)?$")
    if(EXISTS "${CMAKE_MATCH_1}/lib${CMAKE_MATCH_2}.a")
      set(archive "${CMAKE_MATCH_1}/lib${CMAKE_MATCH_2}.a")
    endif()
  endif()
  set(${out} "${archive}" PARENT_SCOPE)
endfunction()

# Call after the find_package() calls, from the directory that made them.
function(gateway_use_static_archives)
  get_directory_property(imported IMPORTED_TARGETS)
  set(missing "")
  foreach(target IN LISTS imported)
    if(NOT target MATCHES "^(gRPC|absl|c-ares|re2|protobuf|OpenSSL|ZLIB)::")
      continue()
    endif()
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "INTERFACE_LIBRARY")
      # RE2 comes from pkg-config as "-L<dir>;-lre2".
      get_target_property(items ${target} INTERFACE_LINK_LIBRARIES)
      if(NOT items)
        continue()
      endif()
      set(directories "")
      set(rewritten "")
      foreach(item IN LISTS items)
        if(item MATCHES "^-L(.+)$")
          list(APPEND directories "${CMAKE_MATCH_1}")
          continue()
        endif()
        # A bare -l (abseil's -latomic) is a toolchain library, left as it is.
        if(item MATCHES "^-l(.+)$" AND directories)
          set(name "${CMAKE_MATCH_1}")
          set(found "")
          foreach(directory IN LISTS directories)
            if(NOT found AND EXISTS "${directory}/lib${name}.a")
              set(found "${directory}/lib${name}.a")
            endif()
          endforeach()
          if(NOT found)
            list(APPEND missing "${target} (${item})")
            set(found "${item}")
          endif()
          list(APPEND rewritten "${found}")
        else()
          list(APPEND rewritten "${item}")
        endif()
      endforeach()
      set_property(TARGET ${target} PROPERTY INTERFACE_LINK_LIBRARIES "${rewritten}")
      continue()
    endif()
    get_target_property(configurations ${target} IMPORTED_CONFIGURATIONS)
    set(properties IMPORTED_LOCATION)
    foreach(configuration IN LISTS configurations)
      list(APPEND properties "IMPORTED_LOCATION_${configuration}")
    endforeach()
    foreach(property IN LISTS properties)
      get_target_property(location ${target} ${property})
      if(NOT location)
        continue()
      endif()
      _gateway_archive_of("${location}" archive)
      if(archive)
        set_property(TARGET ${target} PROPERTY ${property} "${archive}")
      elseif(location MATCHES "\\.so")
        list(APPEND missing "${target} (${location})")
      endif()
    endforeach()
  endforeach()
  # What libcrypto.so brings with it and libcrypto.a does not.
  if(TARGET OpenSSL::Crypto)
    set_property(TARGET OpenSSL::Crypto APPEND PROPERTY INTERFACE_LINK_LIBRARIES
      ${CMAKE_DL_LIBS} Threads::Threads)
  endif()
  if(missing)
    list(JOIN missing ", " missing_text)
    message(FATAL_ERROR "GATEWAY_STATIC_DEPS: no static archive for ${missing_text}")
  endif()
endfunction()
