# The Seer image: trainer workers, the rendezvous store and the operator.
#   docker build -t ghcr.io/seer-platform/seer:0.1.0 .
# Workers:   torchrun ... -m seer.trainer            (command set by the operator)
# Operator:  python -m seer.operators.main           (command set by the chart)
# CUDA torch for the cluster: the wheel index is a build argument (CPU-only: .../whl/cpu).
ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}-slim AS base

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
ARG TORCH_VERSION=2.13.0
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --gid 1000 seer && useradd --uid 1000 --gid 1000 --create-home --shell /usr/sbin/nologin seer

WORKDIR /opt/seer
# Torch first, from the CUDA index: the largest layer, cached across source changes.
RUN pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"
COPY pyproject.toml README.md ./
COPY platform ./platform
COPY trainer ./trainer
COPY operators ./operators
RUN pip install . && python -c "import seer.platform.spec, seer.operators.handlers"

USER 1000:1000
WORKDIR /home/seer
EXPOSE 8080 8081 9450 29400
# No ENTRYPOINT: the operator and the chart set the command of each container.
CMD ["python", "-m", "seer.operators.main"]
