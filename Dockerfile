# The hub's image: one image, several roles (worker, relay, migrations) chosen by command.
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends libengine-gost-openssl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY hub ./hub
RUN pip install --no-cache-dir .

RUN useradd --system --uid 10001 hub
USER hub
ENTRYPOINT ["hub"]
CMD ["run"]
