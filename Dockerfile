# The runtime image: scores with a bundle mounted at /bundle. No torch, no training code needed at run time.
#   docker build -t humanlike .
#   docker run --rm -v "$PWD/artifacts/baseline:/bundle:ro" humanlike score /bundle "Some text to score."
# For GPU hosts, install the `gpu` extra in place of onnxruntime (see README).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY detector ./detector
COPY training ./training
COPY serving ./serving
COPY humanlike ./humanlike
RUN pip install --no-cache-dir '.[serve]'

USER nobody
ENTRYPOINT ["humanlike"]
CMD ["--help"]
