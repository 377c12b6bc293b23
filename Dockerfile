# syntax=docker/dockerfile:1
# The operator image: `docker build -t <registry>/inference-operator:0.1.0 .`
# Builder: wheels for the operator and its dependencies. Final: python:3.11-slim with those wheels installed,
# no compiler, no source tree, no wheel cache, running as a non-root user.

FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# The wheels are bind-mounted for the install only, so they never land in a layer of this image.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels inference-operator
# 65532: the conventional "nonroot" uid; the chart's securityContext uses the same.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["inference-operator"]
CMD ["run", "--all-namespaces"]
