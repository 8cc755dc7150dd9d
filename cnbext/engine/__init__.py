"""The engine: the only code that talks to Docker (through python-on-whales).

Import :mod:`cnbext.engine.docker` only where an engine is really used, so ``cnbext --help``
and config validation never pay for importing the Docker client.
"""
