# The agent's container image, the one deploy/kubernetes runs:
#   docker build -t m365-401-agent:0.1.0 .      (the tag is pyproject.toml's version)
#   docker run --rm m365-401-agent:0.1.0 doctor --sim --offline
# It installs the project with pip (its dependencies come as wheels, no compiler needed) and runs as an
# unprivileged user whose uid is the one the Kubernetes jobs ask for (runAsUser 10001).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AGENT_STATE_DIR=/var/lib/agent \
    XDG_CACHE_HOME=/tmp/cache

# numeric uid and gid: Kubernetes' runAsNonRoot can check a number, not a name
RUN groupadd --system --gid 10001 agent \
    && useradd --system --uid 10001 --gid 10001 --home-dir /home/agent --create-home \
       --shell /usr/sbin/nologin agent \
    && install -d -o 10001 -g 10001 -m 700 /var/lib/agent

# only what the package is built from (setup.py copies playbooks/ into it as agent/builtin_playbooks)
COPY pyproject.toml setup.py README.md /src/
COPY agent /src/agent
COPY playbooks /src/playbooks
RUN pip install /src && rm -rf /src && agent --help >/dev/null

USER 10001:10001
WORKDIR /home/agent
# /var/lib/agent is the state directory (the journal's HMAC key; the SQLite journal and lock when no
# PostgreSQL is given): mount persistent storage there, as deploy/ does
ENTRYPOINT ["agent"]
CMD ["--help"]
