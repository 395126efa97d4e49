"""Context only: the anchor's kind of ceiling, a Starlette no-op route (fixed V2 response).

Same response bytes and headers as noop_app.py, but through Starlette's routing, Request and
Response objects. Run under uvicorn with steadyml's options (uvloop, httptools, no access log).
"""

from noop_app import BODY
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

HEADERS = {"x-request-id": "00000000000000000000000000000000"}


async def infer(request: Request) -> Response:
    await request.body()
    return Response(BODY, media_type="application/json", headers=HEADERS)


app = Starlette(routes=[Route("/v2/models/cancer-api/infer", infer, methods=["POST"])])
