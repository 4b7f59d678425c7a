# A SageMaker inference and training image for scikit-learn models.
# Runs as `docker run IMAGE serve` or `docker run IMAGE train`. What builds it lives in
# container/: build-image.sh (the base image, a local wheel cache, then this file) and
# requirements.py (the image's Python requirements, read from pyproject.toml).
FROM debian:bookworm-slim AS system

LABEL com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true \
      com.amazonaws.sagemaker.capabilities.multi-models=true \
      org.opencontainers.image.title="sklearn-sagemaker-container" \
      org.opencontainers.image.licenses="Apache-2.0"

# Java runs multi-model-server, the optional second engine (SAGEMAKER_MODEL_SERVER=mms).
# The JRE's post-install step needs the man page directory that slim images drop.
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv ca-certificates openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/*

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The requirements list, in a stage of its own: it is rewritten whenever pyproject.toml
# changes, but the dependency layer below is rebuilt only when the list itself does.
FROM system AS requirements
COPY pyproject.toml container/requirements.py /tmp/req/
RUN python3 /tmp/req/requirements.py /tmp/req/pyproject.toml >/tmp/req/requirements.txt

FROM system

# Dependencies first, in their own layer: code changes do not reinstall them. The bytecode
# pip compiles stays: without it every start compiles scikit-learn, SciPy and pandas from
# source again (about 2 s of a 3 s start), and a read-only root could not cache it anyway.
# WHEELS_URL, when given, is a local wheel directory served over HTTP by
# container/build-image.sh: the build then needs no index and no certificates, and no
# layer keeps a copy of the wheels. Without it, pip uses the package index.
ARG WHEELS_URL=
COPY constraints.txt /tmp/deps/
COPY --from=requirements /tmp/req/requirements.txt /tmp/deps/
RUN python3 -m venv /opt/venv \
 && pip install -q ${WHEELS_URL:+--no-index --find-links $WHEELS_URL} \
      -c /tmp/deps/constraints.txt -r /tmp/deps/requirements.txt \
 && rm -rf /tmp/deps /root/.cache \
 && rm -rf /opt/venv/lib/python3*/site-packages/*/tests /opt/venv/lib/python3*/site-packages/scipy/*/tests

COPY pyproject.toml README.md /tmp/src/
COPY serving /tmp/src/serving
COPY training /tmp/src/training
COPY deploy /tmp/src/deploy
COPY usercode /tmp/src/usercode
RUN pip install -q ${WHEELS_URL:+--no-index --find-links $WHEELS_URL} --no-deps /tmp/src \
 && rm -rf /tmp/src /root/.cache

# /opt/ml/code stays empty: `train` puts the user's code there, and skips a directory
# that already holds files, as AWS's toolkit does.
RUN mkdir -p /opt/ml/model /opt/ml/models /opt/ml/input /opt/ml/output /opt/ml/code
EXPOSE 8080
WORKDIR /opt/ml
CMD ["serve"]
