# chat-server and chatctl in one image.
#
#   docker build -t chat:0.1.0 .
#   docker run -p 3000:3000 -v chat-data:/var/lib/chat chat:0.1.0        # embedded profile
#
# The build steps are scripts/image-build's, which CI also runs outside a container.
#
# Both base images can be replaced (a mirror, a locally made image) without editing this file:
#   --build-arg CHAT_BUILDER_IMAGE=…  the toolchain image of the build stage
#   --build-arg CHAT_RUNTIME_IMAGE=…  the Debian 12 image the binaries run on
# scripts/compose-check builds this file with images it makes from Debian's packages.

# The toolchain the workspace is built and tested with.
ARG CHAT_BUILDER_IMAGE=rust:1.95-slim-bookworm
ARG CHAT_RUNTIME_IMAGE=debian:12.8-slim

FROM ${CHAT_BUILDER_IMAGE} AS build
WORKDIR /src

# Dependency layer: the manifests and the lockfile with empty sources. It is rebuilt only when
# a manifest or Cargo.lock changes, not on every source edit.
COPY Cargo.toml Cargo.lock ./
COPY chat-core/Cargo.toml chat-core/
COPY chat-server/Cargo.toml chat-server/
COPY chatctl/Cargo.toml chatctl/
COPY tests/Cargo.toml tests/
COPY examples/Cargo.toml examples/
COPY scripts/image-build scripts/
RUN scripts/image-build stub && scripts/image-build deps release

# The sources, then the two binaries and their runtime layout.
COPY . .
RUN scripts/image-build binaries release && scripts/image-build layout /runtime release

FROM ${CHAT_RUNTIME_IMAGE}
RUN useradd --system --uid 10001 --home-dir /var/lib/chat --shell /usr/sbin/nologin chat
COPY --from=build /runtime/ /
RUN chown chat:chat /var/lib/chat
USER chat
WORKDIR /var/lib/chat
VOLUME /var/lib/chat
# Listen on every interface of the container; chatctl run inside it talks to this server
# (set CHAT_SERVER= empty to make it open the stores itself).
ENV CHAT_LISTEN=0.0.0.0:3000 \
    CHAT_DATABASE_URL=sqlite:///var/lib/chat/chat.db \
    CHAT_SERVER=http://127.0.0.1:3000
EXPOSE 3000
# GET /health through chatctl (the image has no curl): non-zero exit on any failed answer.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["chatctl", "--quiet", "bench", "--scenario", "health", "-n", "1", "-c", "1", "--output", "json"]
ENTRYPOINT ["chat-server"]
