# bananabot in a container: python -m bot as a non-root user, DATA_DIR in a volume, and a health
# check on /healthz. Build: docker build -t bananabot .   (compose.yaml shows the usual way to run it,
# compose.scale.yaml the gateway and workers on PostgreSQL and Redis)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
# The metrics extra brings prometheus-client, for /metrics; postgres brings asyncpg, for DATABASE_URL;
# queue brings SAQ (Redis and PostgreSQL) for QUEUE_URL, so one image serves every role.
RUN pip install '.[metrics,postgres,queue]' \
    && useradd --create-home --uid 10001 bananabot \
    && mkdir /data \
    && chown bananabot /data

USER bananabot
ENV DATA_DIR=/data \
    HEALTH_HOST=0.0.0.0 \
    HEALTH_PORT=8080
VOLUME ["/data"]
EXPOSE 8080

# 200 from /healthz exits 0; a 503 (gateway down, DATA_DIR not writable) or no answer exits 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

# `python -m bot` is the entry point and the command its argument: `docker run bananabot check`,
# `docker compose run --rm bananabot sync`, and compose.scale.yaml's `gateway` and `worker`.
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
