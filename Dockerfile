# Doable: docs/deploy.md. Build: docker build -t doable .   Run: see compose.yaml.
FROM python:3.11-slim

RUN useradd --system --create-home --uid 10001 doable \
    && install -d -o doable -g doable /data /data/uploads
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . && rm -rf /root/.cache

USER doable
ENV DOABLE_ENV=production \
    DOABLE_INSTANCE_PATH=/data \
    DOABLE_UPLOAD_DIR=/data/uploads \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/healthz', timeout=4)"]
# SIGTERM (docker stop) finishes requests in flight and closes sockets; give it 40 s.
STOPSIGNAL SIGTERM
CMD ["doable", "serve", "--host", "0.0.0.0", "--port", "5000"]
