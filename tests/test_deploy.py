"""deploy/: no Docker engine here, so the compose files are checked by parsing them and by
running what they configure outside containers (the settings the bot reads from them)."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.settings import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def _compose(name: str) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((DEPLOY / name).read_text())


def test_milvus_compose_starts_milvus_before_the_bot_and_points_the_bot_at_it():
    services = _compose("compose.milvus.yaml")["services"]
    assert set(services) == {"etcd", "minio", "milvus", "shuzi"}
    for name in ("etcd", "minio", "milvus"):
        assert services[name]["healthcheck"]["test"][0] == "CMD"
    assert services["milvus"]["image"].startswith("milvusdb/milvus:v2.5")
    assert services["milvus"]["depends_on"] == {
        "etcd": {"condition": "service_healthy"},
        "minio": {"condition": "service_healthy"},
    }
    bot = services["shuzi"]
    assert bot["depends_on"] == {"milvus": {"condition": "service_healthy"}}
    assert bot["build"]["dockerfile"] == "deploy/Dockerfile"
    env = {k.removeprefix("SHUZI_").lower(): v for k, v in bot["environment"].items()}
    settings = Settings(_env_file=None, **env)  # type: ignore[call-arg]
    assert settings.store == "milvus" and settings.milvus_uri == "http://milvus:19530"
    # the service name resolves inside the compose network: Milvus's port is not published
    assert "ports" not in services["milvus"]


def test_local_compose_and_the_image_use_the_current_package_layout():
    services = _compose("compose.yaml")["services"]
    assert services["shuzi"]["build"]["dockerfile"] == "deploy/Dockerfile"
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "from index import load_embedder" in dockerfile
    import index

    assert callable(index.load_embedder)
