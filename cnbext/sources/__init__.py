"""Where builder inputs come from: module and lifecycle URIs, downloads, archives, caches.

Buildpacks, extensions and lifecycles are fetched from folders, archives, URLs and images and
staged into cnbext's own temp folders. Everything read here comes from strangers. May import:
`cnbext.errors` only (the ground floor with `cnbext.progress` and `cnbext.version`); an
engine only through callables passed in.
"""
