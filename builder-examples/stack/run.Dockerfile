# The example stack's run image: the fixture Debian with a non-root CNB user and the CNB labels.
# Built by scripts/example-stack.sh; the run image uses another uid than the build image, as the
# platform spec recommends.
ARG base_image=localhost:5000/fixtures/debian:bookworm
FROM ${base_image}
RUN groupadd --gid 1000 cnb \
 && useradd --uid 1001 --gid 1000 --create-home --shell /bin/bash cnb
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL io.buildpacks.stack.id="io.cnbext.examples.bookworm" \
      io.buildpacks.base.distro.name="debian" \
      io.buildpacks.base.distro.version="12" \
      io.buildpacks.base.maintainer="cnbext examples" \
      io.buildpacks.base.description="cnbext example run image (Debian bookworm minbase)"
USER 1001:1000
