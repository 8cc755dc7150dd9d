"""The engine: the only code that talks to Docker (through python-on-whales).

`protocol.Engine` is what the rest of cnbext may ask of an engine; `docker.DockerEngine`
implements it with BuildKit (docker buildx); `models` holds the plain data both speak. Import
:mod:`cnbext.engine.docker` only where an engine is really used, so ``import cnbext``,
``cnbext --help`` and config validation never pay for importing the Docker client. May import:
`cnbext.errors`, `cnbext.progress` (the Reporter protocol), `cnbext.plan.model` (what it
builds) and `cnbext.plan.facts` (the base-image facts it reads into), `cnbext.cnb.imageref`
(references); engine code knows Docker mechanics, not CNB rules. Nothing below it (plan,
config, cnb, sources) imports the engine.
"""
