"""Input roots per tenant, without Ray: ``VIDEOAI_INPUT_ROOTS_BY_TENANT`` narrows the deployment's
roots for every user of a tenant (owner id ``<tenant>/<user>``), a user's own entry narrows its
tenant's further, and ``VIDEOAI_INPUT_ROOTS_HTTP_BY_TENANT`` grants a root over HTTP to every user
of one tenant and to nobody else (the refusal over HTTP names the field, never the roots)."""

from __future__ import annotations

from pathlib import Path

import pytest

from videoai_ray import inputs
from videoai_ray.admission.tasks import Admission
from videoai_ray.errors import InvalidInput, InvalidRequest
from videoai_ray.settings import Settings
from videoai_ray.store import TaskStore


def test_a_tenants_users_get_its_narrowed_roots_and_other_tenants_do_not() -> None:
    s = Settings(input_roots="s3://corpus/, s3://shared/",
                 input_roots_by_tenant={"acme": ["s3://corpus/acme/"], "initech": []},
                 input_roots_by_user={"acme/lead": ["s3://corpus/acme/lead/"], "acme/off": []})
    assert inputs.granted_roots(s, "acme/ana", http=False) == ("s3://corpus/acme/",)
    assert inputs.granted_roots(s, "acme/lead", http=False) == ("s3://corpus/acme/lead/",)  # narrowed further
    assert inputs.granted_roots(s, "acme/off", http=False) == ()
    assert inputs.granted_roots(s, "initech/x", http=False) == ()
    # another tenant, and a plain user whose name happens to be the tenant's id, keep the deployment's
    for other in ("globex/ana", "acme", "ana"):
        assert inputs.granted_roots(s, other, http=False) == ("s3://corpus/", "s3://shared/")
    assert inputs.check_granted("s3://corpus/acme/a.wav", inputs.granted_roots(s, "acme/ana", http=False))
    with pytest.raises(inputs.InputRefused, match="not under"):
        inputs.check_granted("s3://shared/a.wav", inputs.granted_roots(s, "acme/ana", http=False))
    # no door is opened over HTTP by an SDK narrowing
    assert inputs.granted_roots(s, "acme/ana", http=True) == ()


def test_tenant_grants_narrow_and_never_widen() -> None:
    with pytest.raises(ValueError, match="under no VIDEOAI_INPUT_ROOTS"):
        Settings(input_roots="s3://corpus/acme/", input_roots_by_tenant={"acme": ["s3://corpus/"]})
    with pytest.raises(ValueError, match="under no VIDEOAI_INPUT_ROOTS"):
        Settings(input_roots_http_by_tenant={"acme": ["s3://corpus/"]})
    with pytest.raises(ValueError, match="no entry of its tenant 'acme'"):  # a user cannot widen its tenant's
        Settings(input_roots="s3://corpus/", input_roots_by_tenant={"acme": ["s3://corpus/acme/"]},
                 input_roots_by_user={"acme/ana": ["s3://corpus/globex/"]})
    with pytest.raises(ValueError, match="no entry of its tenant 'acme'"):
        Settings(input_roots="s3://corpus/", input_roots_http_by_tenant={"acme": ["s3://corpus/acme/web/"]},
                 input_roots_http_by_user={"acme/ana": ["s3://corpus/acme/"]})
    for bad in ("Acme", "../x", "a/b", "\u0430cme"):  # the last with a Cyrillic a
        with pytest.raises(ValueError, match="not a tenant id"):
            Settings(input_roots="s3://corpus/", input_roots_by_tenant={bad: ["s3://corpus/x/"]})
    with pytest.raises(ValueError, match="chains"):
        Settings(input_roots="s3://corpus/", input_roots_http_by_tenant={"acme": ["simplecache::s3://corpus/"]})


def test_the_worker_admits_a_tenants_root_only_for_its_users(tmp_path: Path) -> None:
    acme, globex = tmp_path / "media" / "acme", tmp_path / "media" / "globex"
    acme.mkdir(parents=True)
    globex.mkdir()
    clip = acme / "a.wav"
    clip.write_bytes(b"RIFF0000")
    s = Settings(home=tmp_path / "home", input_roots=str(tmp_path / "media"),
                 input_roots_by_tenant={"acme": [str(acme)], "globex": [str(globex)]})
    assert inputs.open_root_input(str(clip), s, "acme/ana", tmp_path, 1024) == clip
    for other in ("globex/ana", ""):
        with pytest.raises(InvalidInput, match="not under"):
            inputs.open_root_input(str(clip), s, other, tmp_path, 1024)


@pytest.fixture
def admission(tmp_path: Path) -> Admission:
    media = tmp_path / "media"
    (media / "web").mkdir(parents=True)
    (media / "web" / "a.wav").write_bytes(b"RIFF0000")
    s = Settings(home=tmp_path / "home", input_roots=str(media),
                 input_roots_http_by_tenant={"acme": [str(media / "web")]},
                 input_roots_http_by_user={"acme/blocked": []})
    s.home.mkdir(parents=True)
    return Admission(s, TaskStore(s.db_url, instance=s.instance), resolve_dns=False)


def test_an_http_grant_per_tenant_admits_its_users_only(admission: Admission) -> None:
    url = f"{admission.settings.input_roots[0]}web/a.wav".removeprefix("file://")
    body = {"audio_url": url, "language": "en"}
    sub = admission.prepare("audio_transcription", body, user_id="acme/ana", http=True, tenant="acme")
    assert sub["input"]["audio_url"] == f"file://{url}" and sub["options"]["inputs"]["audio_url"]["size"] == 8
    for user in ("globex/ana", "acme/blocked", "acme", "ana"):
        with pytest.raises(InvalidRequest) as info:
            admission.prepare("audio_transcription", body, user_id=user, http=True)
        assert info.value.field == "audio_url", user
        assert "media" not in info.value.message and "root" not in info.value.message, info.value.message
    # a URL under the deployment's roots but outside acme's HTTP grant: refused too, roots unnamed
    outside = url.replace("/web/", "/")
    with pytest.raises(InvalidRequest) as info:
        admission.prepare("audio_transcription", {**body, "audio_url": outside}, user_id="acme/ana", http=True)
    assert info.value.field == "audio_url" and "web" not in info.value.message, info.value.message


def test_a_driver_joining_the_deployment_takes_its_tenant_grants(tmp_path: Path) -> None:
    """What a running Scheduler answers (``store_location``) carries the tenant grants, so a
    driver or API replica that joins it checks with the deployment's, not its own environment's."""
    from videoai_ray.scheduler.named_actor import join_store, store_location

    deployment = Settings(home=tmp_path, input_roots="s3://corpus/",
                          input_roots_by_tenant={"acme": ["s3://corpus/acme/"]},
                          input_roots_http_by_tenant={"acme": ["s3://corpus/acme/web/"]})
    joined = join_store(Settings(home=tmp_path / "elsewhere"), store_location(deployment))
    assert inputs.granted_roots(joined, "acme/ana", http=False) == ("s3://corpus/acme/",)
    assert inputs.granted_roots(joined, "acme/ana", http=True) == ("s3://corpus/acme/web/",)
    assert inputs.granted_roots(joined, "globex/ana", http=True) == ()
