import json

from alembic.script import ScriptDirectory

from videoai_ray.cli import main
from videoai_ray.scheduler import kill_scheduler
from videoai_ray.settings import Settings
from videoai_ray.store.migrate import alembic_config


def test_db_status_providers_and_submit(ray_session, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VIDEOAI_HOME", str(tmp_path))
    monkeypatch.setenv("VIDEOAI_INSTANCE", "t-cli")
    for key in ("OPENAI_API_KEY", "STABILITY_API_KEY", "RUNWAYML_API_SECRET", "FAL_KEY", "ASSEMBLYAI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    assert main(["db", "upgrade"]) == 0
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert f"revision {head}" in capsys.readouterr().out
    assert main(["providers"]) == 0
    listing = capsys.readouterr().out
    assert "local-procedural-image" in listing and "unavailable (OPENAI_API_KEY is not set)" in listing
    try:
        body = json.dumps({"text": "Hello from the command line.", "format": "vtt"})
        assert main(["submit", "subtitle_generation", "--json", body, "--wait", "60"]) == 0
        task = json.loads(capsys.readouterr().out)
        assert task["status"] == "completed" and task["output"]["format"] == "vtt"
        assert main(["status", task["id"]]) == 0
        assert json.loads(capsys.readouterr().out)["id"] == task["id"]
        assert main(["submit", "image_generation", "--json", '{"prompt": "x", "size": "1x1"}']) == 2
        assert "size" in capsys.readouterr().err
    finally:
        kill_scheduler(Settings())
    assert main(["status", "task_nope"]) == 1


def test_serve_refuses_a_public_host_with_the_dev_jwt_secret(monkeypatch, capsys):
    monkeypatch.delenv("VIDEOAI_JWT_SECRET", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "8999"]) == 2
    assert "VIDEOAI_JWT_SECRET" in capsys.readouterr().err


def test_db_and_status_use_the_running_schedulers_store(ray_session, tmp_path, monkeypatch, capsys):
    import videoai_ray as vai
    from videoai_ray.providers.testing import NoopProvider

    first = Settings(home=tmp_path / "scheduler-home", instance="t-cli-store", database_url=None, cache_enabled=False)
    kill_scheduler(first)
    client = vai.connect(settings=first, providers=[NoopProvider()])
    try:
        task = client.images.generate(prompt="x", provider="noop").result(timeout=60)
        # a shell in another folder, with another data folder: `--address` finds the Scheduler's store
        monkeypatch.setenv("VIDEOAI_HOME", str(tmp_path / "elsewhere"))
        monkeypatch.setenv("VIDEOAI_INSTANCE", "t-cli-store")
        monkeypatch.delenv("DATABASE_URL", raising=False)
        assert main(["db", "current", "--address", "auto"]) == 0
        assert str(tmp_path / "scheduler-home" / "videoai.db") in capsys.readouterr().out
        assert main(["status", task.id, "--address", "auto"]) == 0
        assert json.loads(capsys.readouterr().out)["status"] == "completed"
    finally:
        kill_scheduler(first)
