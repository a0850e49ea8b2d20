"""See inside a model: what it predicts at every word, its states and gates, and its gradients through time.

    rnnlm explore                                 # the shipped models, at http://127.0.0.1:8000
    rnnlm explore runs/gru.best.npz pretrained:part2 --port 8080 --open
    rnnlm explore pretrained:gru --text "My lord, the king is dead." --html king.html   # one file, no server

The page takes typed or pasted text (up to 2,000 words) and shows, for every model: each word shaded by
its probability (or its surprisal), its rank and the likeliest words when hovered, with the text's
log-probability and perplexity (those of rnnlm score --words); a units x words map of every state and gate
of every layer; for a chosen word, the norm of d log p(word) / d h_k for every earlier k (Part 3's vanishing
gradients, one curve per model); generation word by word with each word's distribution; the nearest words
in the embedding. Everything is served from this machine: the page requests nothing from anywhere else. The
JSON API the page uses is documented in rnnlm/explore/server.py. The server listens on 127.0.0.1 unless
--host says otherwise; Ctrl-C stops it.
"""
from ..flags import add_backend_args, number

USAGE = "[MODEL ...] [--host H] [--port P] [--open] [--text TEXT --html FILE]"


def add_arguments(ap):
    ap.add_argument("models", nargs="*", metavar="MODEL",
                    help="model files or pretrained:NAME (default: the shipped models)")
    ap.add_argument("--vocab", metavar="FILE", help="the vocabulary, for tutorial files that store none")
    add_backend_args(ap, dtype=False)
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (another than 127.0.0.1 is warned)")
    ap.add_argument("--port", type=number(int, 0, 65535), default=8000, help="port (0: any free one)")
    ap.add_argument("--open", action="store_true", help="open the page in a browser")
    ap.add_argument("--text", help="with --html: the text the saved page shows")
    ap.add_argument("--html", metavar="FILE", help="write one self-contained page of --text instead of serving")


def load(args):
    """``{name: Explored}`` of the models asked for (the shipped ones by default)."""
    from lmkit.errors import UsageError

    from ..models import open_with_vocab
    from ..pretrained import PREFIX, manifest
    from .analysis import Explored

    names = args.models or [PREFIX + name for name in manifest()]
    if not names:
        raise UsageError("no model given, and no trained models ship with this installation")
    models = {}
    for name in names:
        model, vocab, _ = open_with_vocab(name, args.vocab, mode=args.mode or "c")
        models[name] = Explored(name, model, vocab)
    return models


def run(args):
    import socket
    import webbrowser

    from lmkit.errors import UsageError

    from ..report import warn

    if args.html and not args.text:
        raise UsageError("--html writes the views of --text: give both")
    models = load(args)
    if args.html:
        from lmkit.atomic import atomic_write

        from .page import html

        with atomic_write(args.html, "w", encoding="utf-8") as fh:
            fh.write(html(models, args.text))
        print(f"Saved {args.html}: the views of {len(models)} model(s), nothing fetched from anywhere")
        return
    import uvicorn

    from .server import create_app

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        warn(f"serving on {args.host}: other machines can reach the explorer (and run the models)")
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc})") from None
    sock.listen(128)   # connections wait from now on, so the address printed below can be used at once
    port = sock.getsockname()[1]
    url = f"http://{'[' + args.host + ']' if ':' in args.host else args.host}:{port}/"
    print(f"Serving {', '.join(models)} at {url} (Ctrl-C stops)", flush=True)
    if args.open:
        webbrowser.open(url)
    server = uvicorn.Server(uvicorn.Config(create_app(models), log_level="warning"))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:   # uvicorn shuts down on Ctrl-C, then raises it again: a clean stop here
        pass
    print("Stopped")
