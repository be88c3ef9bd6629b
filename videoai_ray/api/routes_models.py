"""The model catalogue over HTTP: ``GET /models`` for every caller; adding and removing an entry
needs a token with the ``admin`` claim (403 otherwise). A source given here is untrusted: an
``hf://org/repo@revision`` or a URL under ``VIDEOAI_MODEL_ROOTS``, never a folder of the server's
own (``catalogue.spec.check_source``)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ..catalogue.spec import NAME_PATTERN
from ..errors import Forbidden, InvalidRequest
from .auth import Caller
from .context import ApiContext, get_context
from .deps import authorized, json_body, json_body_schema, json_object
from .errors import ERROR_RESPONSES, ErrorBody

router = APIRouter(prefix="/models", tags=["models"])
_ADMIN: dict[int | str, dict[str, Any]] = {403: {"model": ErrorBody, "description": "needs an admin token"}}


class ModelEntry(BaseModel):
    """A catalogue entry (``source`` and ``registered_by`` are shown to admins only)."""

    name: str
    provider: str
    revision: str
    base: str | None
    download: bool
    kind: str
    registered_at: str | None
    source: str | None = None
    registered_by: str | None = None


class ModelList(BaseModel):
    models: list[ModelEntry]
    count: int


class ModelRegistration(BaseModel):
    """``POST /models``: a name for weights at a pinned revision."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    #: ``whisper`` or ``diffusers``
    provider: str
    #: ``hf://org/repo@<commit>`` or a URL under ``VIDEOAI_MODEL_ROOTS``
    source: str
    #: ``sha256:<hex>`` of a URL's files (computed when absent); a Hub source's is in the URL
    revision: str | None = None
    #: a diffusers LoRA adapter's base model (a catalogue name)
    base: str | None = None
    #: a Hub source may be downloaded when the node's Hub cache lacks it
    download: bool = False
    #: replace an entry of the same name
    replace: bool = False


def _admin(caller: Caller) -> None:
    if not caller.admin:
        raise Forbidden("the model catalogue is changed with an admin token only")


@router.get("", response_model=ModelList, summary="The model catalogue", responses=ERROR_RESPONSES)
def list_models(caller: Caller = Depends(authorized), ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    """Every entry a request may name with `model=`."""
    rows = ctx.service.models.list(show_sources=caller.admin)
    return JSONResponse({"models": rows, "count": len(rows)})


@router.post("", status_code=201, response_model=ModelEntry, summary="Add a model (admin)",
             responses={**ERROR_RESPONSES, **_ADMIN}, openapi_extra=json_body_schema("ModelRegistration"))
async def add_model(request: Request, caller: Caller = Depends(authorized),
                    ctx: ApiContext = Depends(get_context)) -> JSONResponse:
    """Body: `ModelRegistration`. The source's files are read once to pin their digest. Bad input
    (a source outside the granted roots, a local folder, a revision that does not match) is a 422
    naming the field; nothing is stored."""
    _admin(caller)
    body = json_object(await json_body(request))
    unknown = sorted(set(body) - set(ModelRegistration.model_fields))
    if unknown:
        raise InvalidRequest(f"{unknown[0]}: unknown field", field=unknown[0])
    for key in ("name", "provider", "source"):
        if not isinstance(body.get(key), str):
            raise InvalidRequest(f"{key}: a string is required", field=key)
    for key in ("download", "replace"):
        if not isinstance(body.get(key, False), bool):
            raise InvalidRequest(f"{key}: true or false", field=key)
    for key in ("revision", "base"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise InvalidRequest(f"{key}: a string is required", field=key)
    row = await asyncio.to_thread(
        ctx.service.models.register, body["name"], provider=body["provider"], source=body["source"],
        revision=body.get("revision"), base=body.get("base"), download=body.get("download", False),
        replace=body.get("replace", False), trusted=False, user_id=caller.user_id)
    return JSONResponse(row, status_code=201, headers={"Location": f"{request.url.path}/{row['name']}"})


@router.delete("/{name}", status_code=204, summary="Remove a model (admin)",
               responses={**ERROR_RESPONSES, **_ADMIN, 404: {"model": ErrorBody, "description": "no such model"}})
def remove_model(name: str = Path(max_length=64), caller: Caller = Depends(authorized),
                 ctx: ApiContext = Depends(get_context)) -> Response:
    """Tasks submitted before keep the entry they were given; new requests may no longer name it."""
    _admin(caller)
    ctx.service.models.remove(name)
    return Response(status_code=204)
