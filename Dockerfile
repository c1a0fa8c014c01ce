# One image for the facmon service and the simulator (see docker-compose.yml).
# The board's front-end libraries, from the committed lockfile.
FROM node:20-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FACMON_DATA_DIR=/data \
    FACMON_API_HOST=0.0.0.0

# Chromium prints the quality reports to PDF, with a font for their Chinese text.
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . .
COPY --from=web /web/node_modules/echarts/dist/echarts.min.js api/static/vendor/echarts.min.js
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app facmon \
    && mkdir -p /data \
    && chown facmon /data

# Unprivileged at run time; /data is where SQLite tickets and the spool live.
USER facmon
EXPOSE 8000
CMD ["facmon", "run"]
