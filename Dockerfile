# The image every Depesche service of docker-compose.yml runs: worker, beat, migrate, flower, web.
FROM python:3.11-slim

# Debian packages Depesche needs at run time (PDF rendering), from the same list `make demo` uses.
COPY scripts/system-packages.sh /tmp/system-packages.sh
RUN /tmp/system-packages.sh runtime && rm -rf /var/lib/apt/lists/* /tmp/system-packages.sh

WORKDIR /app
COPY pyproject.toml README.md ./
COPY config config
COPY campaigns campaigns
COPY content content
COPY workers workers
COPY web web
COPY migrations migrations
RUN pip install --no-cache-dir -e . "flower>=2.0"

# Not root: the workspace is mounted read-only; output and state go to volumes owned by this user
# (a new named volume takes the owner of the folder it is mounted on).
RUN useradd --system --create-home --home-dir /home/depesche depesche \
    && mkdir -p /data/out /data/state \
    && chown -R depesche:depesche /data
USER depesche
ENV PYTHONUNBUFFERED=1 \
    DEPESCHE_WORKSPACE=/workspace \
    DEPESCHE_OUT_DIR=/data/out \
    DEPESCHE_STATE_DIR=/data/state
CMD ["depesche", "--help"]
