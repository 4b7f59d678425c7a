# A SageMaker inference and training image for scikit-learn models, in two variants:
# the default (slim) image serves with our engine only; `--build-arg VARIANT=full` adds the
# optional second engine, AWS's multi-model-server, and the Java runtime it needs (about
# 250 MB). Runs as `docker run IMAGE serve` or `docker run IMAGE train`. What builds it lives
# in container/: build-image.sh (the base image, a local wheel cache, then both variants of
# this file) and requirements.py (the images' Python requirements, read from pyproject.toml).
ARG VARIANT=slim

FROM debian:bookworm-slim AS system

LABEL com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true \
      com.amazonaws.sagemaker.capabilities.multi-models=true \
      org.opencontainers.image.title="sklearn-sagemaker-container" \
      org.opencontainers.image.licenses="Apache-2.0"

# The standard library's bytecode goes too: container/bytecode.py writes it again for the
# modules a start imports.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/* \
 && find /usr/lib/python3* -name __pycache__ -prune -exec rm -rf {} +

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The requirements lists, in a stage of their own: they are rewritten whenever pyproject.toml
# changes, but the dependency layers below are rebuilt only when a list itself does.
FROM system AS requirements
COPY pyproject.toml container/requirements.py /tmp/req/
RUN python3 /tmp/req/requirements.py /tmp/req/pyproject.toml >/tmp/req/requirements.txt \
 && python3 /tmp/req/requirements.py --extra mms /tmp/req/pyproject.toml >/tmp/req/mms.txt

FROM system AS dependencies-slim

# Dependencies first, in their own layer: code changes do not reinstall them. They are
# installed without bytecode, test suites (ONNX's backend test data among them), C and Cython
# sources and headers, type stubs, or the extension modules' symbol tables (the vendored
# OpenBLAS builds are left whole: stripping breaks their loading). The image has no compiler to use the headers; the layer
# below compiles bytecode for what a start imports and nothing else (container/bytecode.py):
# without it every start compiles scikit-learn, SciPy and pandas from source again (about
# 2 s of a 3 s start), and a read-only root could not cache it anyway.
# WHEELS_URL, when given, is a local wheel directory served over HTTP by
# container/build-image.sh: the build then needs no index and no certificates, and no
# layer keeps a copy of the wheels. Without it, pip uses the package index.
ARG WHEELS_URL=
COPY constraints.txt /tmp/deps/
COPY --from=requirements /tmp/req/requirements.txt /tmp/deps/
RUN python3 -m venv /opt/venv \
 && pip install -q --no-compile ${WHEELS_URL:+--no-index --find-links $WHEELS_URL} \
      -c /tmp/deps/constraints.txt -r /tmp/deps/requirements.txt \
 && rm -rf /tmp/deps /root/.cache \
 && find /opt/venv -depth \( -type d \( -name tests -o -name __pycache__ -o -path '*/onnx/backend/test' \) \
      -exec rm -rf {} + \) \
      -o \( -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' -o -name '*.c' -o -name '*.cpp' \
                       -o -name '*.h' -o -name '*.pyi' \) -delete \) \
 && apt-get update && apt-get install -y --no-install-recommends binutils >/dev/null \
 && find /opt/venv -name '*.cpython-*.so' -type f -exec strip --strip-unneeded {} + \
 && apt-get purge -y --auto-remove binutils >/dev/null && apt-get clean && rm -rf /var/lib/apt/lists/*

# The full variant's dependencies: the slim ones plus the second engine
# (SAGEMAKER_MODEL_SERVER=mms). Below the project's own layers, so a code change rebuilds
# neither variant's dependencies.
FROM dependencies-slim AS dependencies-full
ARG WHEELS_URL=
# The JRE's post-install step needs the man page directory that slim images drop.
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/*
COPY constraints.txt /tmp/deps/
COPY --from=requirements /tmp/req/mms.txt /tmp/deps/
RUN pip install -q --no-compile ${WHEELS_URL:+--no-index --find-links $WHEELS_URL} \
      -c /tmp/deps/constraints.txt -r /tmp/deps/mms.txt \
 && rm -rf /tmp/deps /root/.cache

FROM dependencies-${VARIANT}
ARG VARIANT
ARG WHEELS_URL=
COPY pyproject.toml README.md container/bytecode.py /tmp/src/
COPY serving /tmp/src/serving
COPY training /tmp/src/training
COPY deploy /tmp/src/deploy
COPY usercode /tmp/src/usercode
RUN pip install -q --no-compile ${WHEELS_URL:+--no-index --find-links $WHEELS_URL} --no-deps /tmp/src \
 && PYTHONDONTWRITEBYTECODE= python3 -P /tmp/src/bytecode.py \
 && rm -rf /tmp/src /root/.cache

# /opt/ml/code stays empty: `train` puts the user's code there, and skips a directory
# that already holds files, as AWS's toolkit does. SageMaker runs the image as root, the
# default here; hardened hosts and serverless may run it as another user, so the image
# carries one (uid 1000) that owns the directories `train` writes, and `serve` writes only
# under /tmp.
RUN useradd --uid 1000 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin model \
 && mkdir -p /opt/ml/model /opt/ml/models /opt/ml/input /opt/ml/output /opt/ml/code \
 && chown model /opt/ml/model /opt/ml/output /opt/ml/code
ENV SAGEMAKER_IMAGE_VARIANT=${VARIANT}
EXPOSE 8080
WORKDIR /opt/ml
CMD ["serve"]
