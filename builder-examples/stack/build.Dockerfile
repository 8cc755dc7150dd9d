# The example stack's build image: the fixture Debian with the CNB user the lifecycle runs as.
# Built by scripts/example-stack.sh.
ARG base_image=localhost:5000/fixtures/debian:bookworm
FROM ${base_image}
RUN groupadd --gid 1000 cnb \
 && useradd --uid 1000 --gid 1000 --create-home --shell /bin/bash cnb
ENV CNB_USER_ID=1000 \
    CNB_GROUP_ID=1000 \
    CNB_STACK_ID="io.cnbext.examples.bookworm" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL io.buildpacks.stack.id="io.cnbext.examples.bookworm" \
      io.buildpacks.base.distro.name="debian" \
      io.buildpacks.base.distro.version="12" \
      io.buildpacks.base.maintainer="cnbext examples" \
      io.buildpacks.base.description="cnbext example build image (Debian bookworm minbase)"
USER 1000:1000
