# A small static image of the node: the binary alone, on scratch.
#
#   docker build -t naivechain .
#   docker run --rm -p 127.0.0.1:15002:15002 -v naivechain:/data naivechain
#
# The build stage keeps .git in its context so that `naivechain version`
# names the commit.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/naivechain ./cmd/naivechain \
	&& mkdir -p /out/data

FROM scratch
COPY --from=build /out/naivechain /naivechain
# The data dir belongs to an unprivileged user; nothing else is writable.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV HOME=/data
VOLUME /data
# 15001: peers (WebSocket, TLS); 15002: the HTTP API.
EXPOSE 15001 15002
ENTRYPOINT ["/naivechain"]
CMD ["-p", "15001", "--host", "0.0.0.0", "--http-host", "0.0.0.0", "--data-dir", "/data"]
