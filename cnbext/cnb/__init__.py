"""What the Cloud Native Buildpacks specification says, as pure code.

Image references, labels and builder metadata, distros and their package managers, the
Dockerfile and extender rules of image extensions, and the builder's file layout. Nothing here
does I/O or talks to Docker. May import: `cnbext.errors`, `cnbext.version`, other `cnbext.cnb`
modules, and `cnbext.sources` types (the builder layout places modules and lifecycles).
"""
