"""cnbext: extend Cloud Native Buildpacks base images, builders and run images ahead of time."""

__version__ = "0.1.0"
