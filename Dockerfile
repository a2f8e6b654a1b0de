# The SalesBoost Tools service: REST API, WebSocket events, /metrics and the dashboard on port 8000.
# Documentation only: no Docker engine runs on the project's machines, so this file is never built in CI.
# See docs/deploy.md. Build from the repository root: docker build -t salesboost .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# An editable install keeps the package next to data/ (the tools find their data files from the project root)
# and the Alembic migrations under src/. The extra otel: tracing is a setting away (SALESBOOST_TRACING=true).
COPY pyproject.toml README.md ./
COPY src ./src
COPY data ./data
RUN pip install -e '.[otel]' \
 && useradd --system --uid 10001 --home-dir /app salesboost \
 && mkdir -p var \
 && salesboost train stage-classifier --if-missing \
 && salesboost train compliance --if-missing \
 && chown -R salesboost var

USER salesboost
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

# Migrations first (idempotent: a database at head is left alone), then the server. Keys come from the
# environment (SALESBOOST_API_KEYS or SALESBOOST_API_KEYS_FILE). Without them `serve` refuses to start: on
# 0.0.0.0 the published demo keys would let anyone in. Deliberately no --allow-demo-keys here (docs/security.md).
CMD ["sh", "-c", "salesboost db upgrade && exec salesboost serve --host 0.0.0.0 --port 8000"]
