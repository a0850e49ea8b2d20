"""The explorer's web server: the page, its static files, and the JSON API, on Starlette.

    GET  /                 the page (static/index.html)
    GET  /static/...       its script and style, shipped in the package (nothing from any other server)
    GET  /api/models       the loaded models
    POST /api/analyze      {"model", "text", "top_k"=5, "gradients"=true} -> rnnlm.explore.analysis.analyze
    POST /api/gradients    {"model", "text", "position"}        -> one word's gradients through time
    POST /api/generate     {"model", "prefix", "method", "temperature", "top_k", "top_p", "beam_width",
                            "max_length", "seed"}                -> a sentence, each word with its distribution
    POST /api/neighbours   {"model", "word", "k"=10}            -> the nearest words in the input vectors

The models are fixed when the server starts; no request names a file. A bad request gets a 4xx response
whose JSON is ``{"error": "<one line>"}``: 400 for malformed JSON or a bad field, 404 for an unknown model,
413 for text over ``MAX_WORDS`` words; the server goes on serving. The computations run in Starlette's
thread pool, each model's compiled functions behind their locks.
"""
import json
from pathlib import Path

from lmkit.errors import RNNLMError, UsageError

from . import analysis

STATIC = Path(__file__).with_name("static")


class RequestError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def create_app(models):
    """The Starlette application serving ``models`` (name -> :class:`rnnlm.explore.analysis.Explored`)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    async def body_of(request):
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise RequestError(400, "the request body is not JSON") from None
        if not isinstance(body, dict):
            raise RequestError(400, "the request body must be a JSON object")
        name = body.get("model")
        if name not in models:
            raise RequestError(404, f"no model {name!r} here (loaded: {', '.join(models)})")
        return models[name], body

    def endpoint(compute):
        async def handle(request):
            try:
                explored, body = await body_of(request)
                result = await run_in_threadpool(compute, explored, body)
            except RequestError as exc:
                return JSONResponse({"error": str(exc)}, status_code=exc.status)
            except analysis.TextTooLong as exc:
                return JSONResponse({"error": str(exc)}, status_code=413)
            except RNNLMError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            except (TypeError, ValueError) as exc:
                return JSONResponse({"error": f"bad request ({exc})"}, status_code=400)
            return JSONResponse(result)
        return handle

    def analyze(explored, body):
        return analysis.analyze(explored, body.get("text"), top_k=body.get("top_k", 5),
                                gradients=bool(body.get("gradients", True)))

    def gradients(explored, body):
        position = body.get("position")
        if not isinstance(position, int) or isinstance(position, bool) or position < 0:
            raise UsageError("position must be a word's position (an integer from 0)")
        return analysis.gradient_row(explored, body.get("text"), position)

    def generate(explored, body):
        fields = ("prefix", "method", "temperature", "top_k", "top_p", "beam_width", "max_length", "seed")
        return analysis.generate(explored, **{k: body[k] for k in fields if k in body})

    def neighbours(explored, body):
        return analysis.neighbours(explored, body.get("word"), k=body.get("k", 10))

    async def index(request):
        return FileResponse(STATIC / "index.html")

    async def no_icon(request):
        return Response(status_code=204)

    async def list_models(request):
        return JSONResponse({"models": [m.describe() for m in models.values()], "max_words": analysis.MAX_WORDS})

    return Starlette(routes=[
        Route("/", index),
        Route("/favicon.ico", no_icon),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        Route("/api/models", list_models),
        Route("/api/analyze", endpoint(analyze), methods=["POST"]),
        Route("/api/gradients", endpoint(gradients), methods=["POST"]),
        Route("/api/generate", endpoint(generate), methods=["POST"]),
        Route("/api/neighbours", endpoint(neighbours), methods=["POST"]),
    ])
