# An alternative run image for the example stack (the examples/switch-run extension switches
# to it): the run image plus a marker file and label.
ARG base_image=localhost:5000/cnbext-examples/run:bookworm
FROM ${base_image}
USER root
RUN echo "alternative run image" >/etc/cnbext-run-variant
LABEL io.cnbext.examples.variant="alt"
USER 1001:1000
