"""The ceiling: a raw ASGI app that reads the request body and returns a fixed V2 response.

Same response shape, size and headers as steadyml's V2 infer answer (content-type,
content-length, x-request-id), no framework, no JSON work, no model. Run under uvicorn with the
options steadyml's server uses (uvloop, httptools, access log off, one worker):

  uvicorn --app-dir benchmarks/serving noop_app:app --loop uvloop --http httptools \
      --no-access-log --log-level warning --host 127.0.0.1 --port PORT
"""

BODY = (b'{"model_name":"cancer-api","model_version":"1","id":"00000000000000000000000000000000",'
        b'"outputs":[{"name":"predict","shape":[1],"datatype":"INT64","data":[0]}]}')
START = {"type": "http.response.start", "status": 200, "headers": [
    (b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode()),
    (b"x-request-id", b"00000000000000000000000000000000")]}
END = {"type": "http.response.body", "body": BODY}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    message = await receive()
    while message.get("more_body", False):
        message = await receive()
    await send(START)
    await send(END)
