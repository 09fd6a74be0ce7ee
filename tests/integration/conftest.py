import socket
import subprocess

import pytest
import redis

from searchsite.celery import app as celery_app
from tests.helpers import running_worker, search_settings, wait_for

from . import REDIS_URL


@pytest.fixture
def celery_sync(settings, tmp_path):
    """Saves queue Celery tasks on a real Redis broker; a fresh embedded store."""
    redis.Redis.from_url(REDIS_URL).flushdb()
    settings.COMPANY_SEARCH = search_settings(
        QDRANT_PATH=str(tmp_path / "qdrant"),
        SIGNAL_PROCESSOR="companies.signals.CelerySignalProcessor",
    )
    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = REDIS_URL
    celery_app.close()
    yield REDIS_URL
    celery_app.conf.broker_url = previous
    celery_app.close()


@pytest.fixture
def celery_worker(celery_sync):
    with running_worker(celery_sync) as worker:
        yield worker


class RedisServer:
    """A Redis server of the test's own, on a free port, that can be restarted."""

    def __init__(self, workdir):
        self.workdir = workdir
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: self._ping(), timeout=10, message="redis-server to start")

    def stop(self):
        self.process.kill()
        self.process.wait()

    def _ping(self):
        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping()
        except redis.RedisError:
            return False


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()
