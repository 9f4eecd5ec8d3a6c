# make install, the Python package (python/diffumask): into the directory Debian's python3
# searches for the install prefix — the user site (python3 -m site --user-site) when the prefix
# is python3's user base (~/.local), else PREFIX/lib/python3/dist-packages (Debian's path for
# /usr/local). DM_PYTHON_DIR (cache variable or environment) overrides it. The package gets a
# _install.py naming the installed libdiffumask.so.0 relative to itself, so it finds the library
# wherever PREFIX (and DESTDIR) put the two.
# Run at install time (install(SCRIPT)): CMAKE_INSTALL_PREFIX is then the --prefix given.
# Inputs: DM_PY_SRC (python/diffumask), DM_PY_LIBDIR (the library's directory below the prefix),
# DM_PY_INTERP (the python3 to ask), DM_PYTHON_DIR (may be empty), DM_PY_BUILD (the build folder).
set(prefix "${CMAKE_INSTALL_PREFIX}")
set(pydir "${DM_PYTHON_DIR}")
if(NOT pydir AND DEFINED ENV{DM_PYTHON_DIR})
  set(pydir "$ENV{DM_PYTHON_DIR}")
endif()
if(NOT pydir AND DM_PY_INTERP)
  execute_process(
    COMMAND "${DM_PY_INTERP}" -c "import os, site, sys
p = os.path.realpath(sys.argv[1])
print(site.getusersitepackages() if p == os.path.realpath(site.getuserbase()) else '')"
            "${prefix}"
    OUTPUT_VARIABLE pydir OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    set(pydir "")
  endif()
endif()
if(NOT pydir)
  set(pydir "${prefix}/lib/python3/dist-packages")
endif()
if(IS_ABSOLUTE "${DM_PY_LIBDIR}")
  set(libdir "${DM_PY_LIBDIR}")
else()
  set(libdir "${prefix}/${DM_PY_LIBDIR}")
endif()
file(RELATIVE_PATH rel "${pydir}/diffumask" "${libdir}/libdiffumask.so.0")
file(GLOB pyfiles "${DM_PY_SRC}/*.py")
file(INSTALL ${pyfiles} DESTINATION "${pydir}/diffumask")
set(gen "${DM_PY_BUILD}/python_install/_install.py")
file(WRITE "${gen}" "# written by make install: the library installed with this package\n"
                    "LIBRARY = \"${rel}\"  # relative to this folder\n")
file(INSTALL "${gen}" DESTINATION "${pydir}/diffumask")
