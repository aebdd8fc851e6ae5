# Build a static binary, then ship it alone on a distroless base that runs
# as a non-root user and holds no shell or package manager.

FROM golang:1.26 AS build
WORKDIR /src
# Download modules in their own layer so source edits do not repeat it.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/gateway .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gateway /gateway
# The default configuration; mount your own over /etc/gateway.
COPY examples/gateway.yaml /etc/gateway/gateway.yaml
ENV GATEWAY_CONFIG=/etc/gateway/gateway.yaml
# 65532 is the nonroot user of the distroless image.
USER nonroot:nonroot
# 8080 is the public listener, 9901 the admin listener.
EXPOSE 8080 9901
ENTRYPOINT ["/gateway"]
CMD ["run", "--config", "/etc/gateway/gateway.yaml"]
