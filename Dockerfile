# Sockscope image: the Svelte front end is built with Node, then served by the Python package.
#   docker build -t sockscope .
#   docker run --rm -p 8000:8000 -p 40000-40199:40000-40199 sockscope
# or, for a workshop, `docker compose up` (see docker-compose.yml).

# ---- stage 1: build the web interface (the same commands as `make ui`) ----
FROM node:20-bookworm-slim AS ui
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json* ./
RUN if [ -f package-lock.json ]; then npm ci; else npm install; fi
COPY frontend/ ./
RUN npm run build
# Vite writes to ../backend/sockscope/static, i.e. /src/backend/sockscope/static.
# Fail here, with a clear message, if the build put its output anywhere else.
RUN test -f /src/backend/sockscope/static/index.html \
 || { echo "the front-end build did not write /src/backend/sockscope/static/index.html" >&2; exit 1; }

# ---- stage 2: the server ----
FROM python:3.11-slim AS app
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --gid 10001 sockscope \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /app \
            --shell /usr/sbin/nologin sockscope
WORKDIR /app
COPY pyproject.toml README.md ./
COPY backend/ ./backend/
COPY --from=ui /src/backend/sockscope/static ./backend/sockscope/static
# A regular (not editable) install: the package, with its static/ files, goes to site-packages.
RUN pip install --no-cache-dir . \
 && rm -rf build backend/*.egg-info

USER sockscope
# 8000: the web interface and API. 40000-40199: the ports lab sockets may bind
# (SOCKSCOPE_LAB_PORTS); publish them so participants' own programs can reach lab servers.
EXPOSE 8000 40000-40199
# No curl in the slim image: ask Python. urlopen raises (exit 1) on refusal or a non-2xx answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# --host 0.0.0.0: inside a container 127.0.0.1 would be unreachable from outside it.
# Other settings come from SOCKSCOPE_* variables (SOCKSCOPE_LAB_PORTS, SOCKSCOPE_ALLOW_CONNECT,
# SOCKSCOPE_ALLOWED_ORIGINS, SOCKSCOPE_MAX_LABS, ...); flags given here override them.
CMD ["sockscope", "--host", "0.0.0.0", "--port", "8000"]
