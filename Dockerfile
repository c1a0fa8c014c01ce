# One image for the facmon service and the simulator (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FACMON_DATA_DIR=/data \
    FACMON_API_HOST=0.0.0.0

WORKDIR /app
COPY . .
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app facmon \
    && mkdir -p /data \
    && chown facmon /data

# Unprivileged at run time; /data is where SQLite tickets and the spool live.
USER facmon
EXPOSE 8000
CMD ["facmon", "run"]
