# The Seer image: trainer workers, the rendezvous store and the operator.
#
# Built by `scripts/image build [--variant cpu|cuda]` (buildah, no registry needed: the
# base is a local Debian bookworm root filesystem) or by hand with registry access:
#   docker build -t ghcr.io/seer-platform/seer:0.1.0 .                                   # CUDA (the chart's default tag)
#   docker build --build-arg VARIANT=cpu --build-arg TORCH_INDEX_URL=<PyTorch CPU index> \
#                -t ghcr.io/seer-platform/seer:0.1.0-cpu .                                  # CPU
# Workers:   torchrun ... -m seer.trainer            (command set by the operator)
# Operator:  python -m seer.operators.main           (command set by the chart)
#
# Layers, largest and most stable first, so a source change rebuilds only the last one:
#   base | user + venv + torch | dependencies of pyproject.toml | the seer package.
# Runs as uid 1000 with a read-only root filesystem: nothing here writes under / at run
# time (no .pyc, no caches); jobs write data and checkpoints to mounted volumes or object storage.

# Any Debian-like image with python3.11, python3-venv and useradd: upstream python:3.11-slim,
# or the local bookworm base that `scripts/image build` makes with mmdebstrap.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

# cpu: torch's CPU build (a local version "+cpu": from TORCH_FIND_LINKS or a CPU wheel index).
# cuda: torch from PyPI (or TORCH_INDEX_URL), whose nvidia-* wheels bring the CUDA runtime.
ARG VARIANT=cuda
ARG TORCH_VERSION=2.13.0
# Extra wheel sources for the torch layer only (empty: PyPI). scripts/image passes the local
# wheel directory of pip's configuration here, bind-mounted read-only into the build.
ARG TORCH_INDEX_URL=
ARG TORCH_FIND_LINKS=
# A CA bundle for pip (e.g. behind a TLS-inspecting proxy): scripts/image mounts the one of the
# host's pip configuration read-only and names it here. Unset: pip's own bundle. Not in the image.
ARG PIP_CERT

ENV VIRTUAL_ENV=/opt/seer/venv \
    PATH=/opt/seer/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/home/seer \
    LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLCONFIGDIR=/tmp/matplotlib

# Metadata first: a step after the large layers costs a copy of them with vfs storage.
# The version and revision labels change with every commit, so the build command sets them
# (scripts/image: --label org.opencontainers.image.version=... --label ...revision=...).
LABEL org.opencontainers.image.title="seer" \
      org.opencontainers.image.description="Seer: SwAV pretraining of RegNetY under FSDP2 (workers, rendezvous, operator)" \
      org.opencontainers.image.source="https://github.com/seer-platform/seer" \
      org.opencontainers.image.licenses="Apache-2.0" \
      dev.seer.variant="${VARIANT}"
WORKDIR /home/seer
EXPOSE 8080 8081 9450 29400
# No ENTRYPOINT: the operator and the chart set the command of each container.
CMD ["python", "-m", "seer.operators.main"]

# One layer: the user, the virtual environment and torch (the largest layer, cached
# across source and dependency changes). The check fails the build when the variant and
# the installed torch disagree (e.g. a CUDA wheel in the CPU image).
RUN set -eu; \
    case "${VARIANT}" in cpu) torch_req="torch==${TORCH_VERSION}+cpu" ;; cuda) torch_req="torch==${TORCH_VERSION}" ;; \
      *) echo "VARIANT must be cpu or cuda, not '${VARIANT}'" >&2; exit 2 ;; esac; \
    groupadd --gid 1000 seer; \
    useradd --uid 1000 --gid 1000 --no-create-home --home-dir /home/seer --shell /usr/sbin/nologin seer; \
    chown 1000:1000 /home/seer; \
    python3 -m venv "${VIRTUAL_ENV}"; \
    pip install --quiet ${TORCH_INDEX_URL:+--index-url "${TORCH_INDEX_URL}"} \
        ${TORCH_FIND_LINKS:+--find-links "${TORCH_FIND_LINKS}"} "${torch_req}"; \
    python -c "import sys, torch; cuda = torch.version.cuda; \
ok = (cuda is None) == ('${VARIANT}' == 'cpu'); \
print('torch', torch.__version__, 'cuda', cuda); sys.exit(0 if ok else 'torch build does not match VARIANT=${VARIANT}')"

# The dependencies of pyproject.toml (torch already satisfies its pin, so it stays).
COPY pyproject.toml /opt/seer/src/pyproject.toml
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('/opt/seer/src/pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
    && pip install --quiet -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The package itself (.dockerignore lets in only what `pip install .` needs).
COPY . /opt/seer/src/
RUN pip install --quiet --no-deps /opt/seer/src \
    && rm -rf /opt/seer/src/build /opt/seer/src/*.egg-info \
    && python -c "import seer.platform.spec, seer.operators.handlers, seer.trainer.entrypoint"

# Last: the user the workers and the operator run as (numeric, so runAsNonRoot can verify it).
USER 1000:1000
