"""Shared knowledge: which programs are long-running servers (used by DU204 and DU205)."""

from __future__ import annotations

import posixpath

SERVERS = frozenset(
    {
        "nginx", "httpd", "apache2", "apachectl", "apache2ctl", "lighttpd", "caddy", "haproxy",
        "redis-server", "memcached", "mysqld", "mariadbd", "postgres", "mongod", "php-fpm",
        "gunicorn", "uwsgi", "uvicorn", "hypercorn", "daphne", "node", "npm", "java", "dotnet",
        "rails", "puma", "unicorn", "sshd", "named", "dnsmasq", "squid", "vsftpd", "postfix",
        "rabbitmq-server", "elasticsearch", "consul", "vault", "traefik", "envoy", "mosquitto",
        "crond", "cron",
    }
)  # fmt: skip


def is_server(argv: tuple[str, ...]) -> bool:
    if not argv:
        return False
    name = posixpath.basename(argv[0])
    if name in SERVERS or name.startswith("php-fpm"):
        return True
    # python -m http.server, python -m flask run
    return name.startswith("python") and argv[1:3] in (("-m", "http.server"), ("-m", "flask"))
