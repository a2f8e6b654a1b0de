"""`GET /dashboard` and `/static/*`: the live page's files, served as they are (no build step).

They are public: a browser cannot attach an API key to a page it navigates to, and the files hold no data.
The page asks for a key and sends it with every request it makes (and in the WebSocket's first message).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from salesboost.api.errors import ApiError

STATIC_DIR = Path(__file__).with_name("static")

router = APIRouter()


@router.get("/dashboard", include_in_schema=False)
async def dashboard() -> Response:
    index = STATIC_DIR / "index.html"
    if not index.is_file():
        raise ApiError(404, "NOT_FOUND", "the dashboard's files are not installed")
    return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})


def mount_static(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
