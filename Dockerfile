# Sockscope image: the Svelte front end is built with Node, then served by the Python package.
#   docker build -t sockscope .
#   docker run --rm -p 8000:8000 sockscope
# or, for a workshop, `docker compose up` (see docker-compose.yml).

# ---- stage 1: build the web interface (the same commands as `make ui`) ----
FROM node:20-bookworm-slim AS ui
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
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
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SOCKSCOPE_IN_CONTAINER=1
RUN groupadd --gid 10001 sockscope \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /app \
            --shell /usr/sbin/nologin sockscope
WORKDIR /app
# The pinned dependencies first, in a layer of their own: editing the code rebuilds from
# here down without the network (requirements/*.txt are made by `make lock`).
COPY requirements/run.txt requirements/build.txt ./requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/run.txt -r requirements/build.txt
COPY pyproject.toml README.md ./
COPY backend/ ./backend/
COPY --from=ui /src/backend/sockscope/static ./backend/sockscope/static
# A regular (not editable) install of the package alone, with its static/ and lesson files.
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
 && rm -rf build backend/*.egg-info
# The room's SQLite file (compose mounts a volume here): a new named volume takes this
# folder's owner, so the unprivileged user can write it.
RUN mkdir -p /data && chown sockscope:sockscope /data

# The container starts as root for one step only: the packet broker (engine/packetbroker.py)
# becomes the user at once, keeping CAP_NET_RAW alone, and starts the server as the same user
# with no capability at all; the broker then only hands out packet sockets (the wire lane).
# Started with --user 10001, or without CAP_NET_RAW, the lane says why and the rest works.
# 8000: the web interface and API. Lab sockets bind SOCKSCOPE_LAB_PORTS (20000-20999) inside
# the container; docker-compose.yml says how participants' own programs can reach them.
EXPOSE 8000
# No curl in the slim image: a raw HTTP request from Python without site-packages (-I -S)
# starts in about 15 ms, so the check can run every 2 s (see docker-compose.yml for what
# that costs). /healthz is not access-logged.
HEALTHCHECK --interval=2s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-I", "-S", "-c", "import socket,sys; s=socket.create_connection(('127.0.0.1',8000),2); s.sendall(b'GET /healthz HTTP/1.0\\r\\n\\r\\n'); sys.exit(b' 200 ' not in s.makefile('rb').readline())"]
# --host 0.0.0.0: inside a container 127.0.0.1 would be unreachable from outside it.
# Other settings come from SOCKSCOPE_* variables (SOCKSCOPE_LAB_PORTS, SOCKSCOPE_ALLOW_CONNECT,
# SOCKSCOPE_ALLOWED_ORIGINS, SOCKSCOPE_MAX_LABS, ...); flags given here override them.
CMD ["python", "-m", "sockscope.engine.packetbroker", "--user", "sockscope", "--", "sockscope", "--host", "0.0.0.0", "--port", "8000"]
