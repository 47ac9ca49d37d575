# The serving image: `humanlike serve` over a bundle mounted at /models/bundle. No torch, no training stack.
#
#   docker build -t humanlike .
#   docker run --rm -p 8000:8000 -p 50051:50051 -v "$PWD/artifacts/baseline:/models/bundle:ro" humanlike
#   docker run --rm -v "$PWD/artifacts/baseline:/models/bundle:ro" humanlike score /models/bundle "Some text."
#
# Configure with HUMANLIKE_* variables (see `humanlike serve --help`), e.g. -e HUMANLIKE_AUTH_TOKEN=...
# (the image binds 0.0.0.0: without a token the server warns at start, and anyone who reaches the port
# may score); mount a model repository (/models/bundle/1, /2, ...) to roll versions with SIGHUP;
# `docker stop` sends SIGTERM, which drains in-flight requests and exits 0 (give it --time 35 or more);
# `docker kill -s HUP` reloads the bundle (or the repository's highest version) from the mount. For GPU hosts, install onnxruntime-gpu in place
# of onnxruntime (the `gpu` extra) on a CUDA base image.

# -- build: generate the gRPC code from protos/ and build the wheel --------------------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# The sources of every package pyproject.toml installs: humanlike/ and the folders its links point to
# (tests/test_packaging.py checks that these cover every file of the wheel).
COPY pyproject.toml README.md ./
COPY protos ./protos
COPY humanlike ./humanlike
COPY detector ./detector
COPY training ./training
COPY serving ./serving
COPY curriculum ./curriculum
RUN pip install 'grpcio-tools>=1.85' \
 && python protos/generate.py \
 && pip wheel --no-deps --wheel-dir /wheels .

# -- runtime ----------------------------------------------------------------------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HUMANLIKE_BUNDLE=/models/bundle HUMANLIKE_HOST=0.0.0.0 \
    HUMANLIKE_HTTP_PORT=8000 HUMANLIKE_GRPC_PORT=50051
COPY --from=build /wheels /wheels
RUN pip install "$(ls /wheels/humanlike-*.whl)[serve,curriculum]" && rm -rf /wheels \
 && useradd --system --uid 10001 --no-create-home humanlike
USER 10001
EXPOSE 8000 50051
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"
ENTRYPOINT ["humanlike"]
CMD ["serve"]
