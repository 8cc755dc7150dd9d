"""Where the work runs, as opposed to what the user asked for: the engine's settings.

A request (cnbext.plan.extend.ExtendOptions, cnbext.plan.builder_options.BuilderOptions) says
what to make; these say which engine makes it. They are given to the engine factory, never
to a planner, and never recorded in an image: the same request on another machine, context or
builder must make the same image.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EngineSettings:
    # The network RUN steps use (e.g. "host" where Docker runs without a bridge); None:
    # Docker's default.
    network: str | None = None
    # A docker context and a buildx builder; None: the docker CLI's defaults.
    context: str | None = None
    builder: str | None = None
    # Whether base-image facts, and the diffIDs of COPY --link layers, may come from the
    # fact cache (kept by content digest; cnbext.client.fact_cache, cnbext.engine.layer_cache).
    fact_cache: bool = True
    # Whether builds may use BuildKit's cache (--no-cache: every step runs again, e.g. to
    # check that a request is reproducible without pruning the whole cache).
    build_cache: bool = True
