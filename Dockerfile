# The hub's image: one image, several roles (worker, relay, SMEV client, migrations, the
# simulator) chosen by command.
FROM python:3.11-slim-bookworm

# OpenSSL 3's GOST engine: signing and verifying in-process (the pure-Python fallback is slow).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libengine-gost-openssl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY hub ./hub
RUN pip install --no-cache-dir .

# The project's own schemas (ZAGS notifications, Gosuslugi) live beside the package, not in
# it: the installed package finds them through the HUB_SCHEMAS_DIR setting.
COPY schemas ./schemas
# Official SMEV schemas are mounted here (docker-compose.yml), never copied into the image.
ENV HUB_SCHEMAS_DIR=/app/schemas \
    HUB_REFERENCE_DIR=/shared

RUN useradd --system --uid 10001 hub \
    && mkdir -p /var/lib/hub/metrics /var/lib/hub/simulator \
    && chown hub /var/lib/hub/metrics /var/lib/hub/simulator
# A named volume mounted there starts as a copy of this folder: owned by hub, writable.
# (metrics: the processes' counters; simulator: the simulator's SMEV key, --state.)
USER hub
ENTRYPOINT ["hub"]
CMD ["run"]
