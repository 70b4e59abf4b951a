"""Where a task attempt's log lives in the blob store, and how it is read back.

The log of one attempt is a folder (:func:`attempt_log_uri`) of chunk objects, each named
by the byte offset of its first byte in the whole log (``{offset:016d}.log``) and holding
whole lines. The last chunk of an attempt that ended is named ``{offset:016d}.end.log``:
it is the end marker too, so a short attempt's log is one object. (A successful attempt
that printed and logged nothing stores none: see :mod:`engine.logs.capture`.)

Invariant: chunks are written in order by one writer (:mod:`engine.logs.writer`), each
starting where the one before ended, so the log is the chunks' concatenation and a
reader needs no index: the listing alone says where every byte is.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.catalog.blob import BlobStore
from engine.errors import StorageError

CHUNK_SUFFIX = ".log"
END_SUFFIX = ".end.log"
_OFFSET_DIGITS = 16


def attempt_log_uri(blobs: BlobStore, execution: str, node_id: str, attempt: int) -> str:
    """Where the log of ``attempt`` (1 for the first) of a node is stored (a folder)."""
    return blobs.uri("logs", execution, node_id or "task", str(attempt))


def chunk_name(offset: int, last: bool) -> str:
    """The object name of the chunk starting at byte ``offset``; ``last``: the attempt's
    final chunk, which marks its log complete."""
    return f"{offset:0{_OFFSET_DIGITS}d}{END_SUFFIX if last else CHUNK_SUFFIX}"


@dataclass(frozen=True)
class LogSlice:
    """A piece of an attempt's log.

    ``text`` holds whole lines, except when a single line is longer than the bytes asked
    for: then it is cut there (and the next read goes on inside it).
    """

    text: str  # UTF-8 text
    start: int  # byte offset (in the whole log) of text's first byte
    next: int  # byte offset after text: pass as ``since`` to read on
    complete: bool  # the attempt ended and its whole log is stored (nothing more will come)


@dataclass(frozen=True)
class _Chunk:
    offset: int
    uri: str
    last: bool


class LogStore:
    """Reads attempt logs from the blob store (see the module's docstring for the layout).

    Raises StorageError when the blob store cannot be read; a log that does not exist
    (yet) reads as empty and not complete.
    """

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs

    def exists(self, uri: str) -> bool:
        """Whether any of the log at ``uri`` is stored."""
        return bool(self._chunks(uri))

    def read(self, uri: str, since: int = 0, max_bytes: int = 1 << 20) -> LogSlice:
        """Up to ``max_bytes`` of whole lines from byte ``since`` (a line boundary: 0, or
        an earlier slice's ``next``) on."""
        if max_bytes < 1 or since < 0:
            raise ValueError(f"since must be at least 0 and max_bytes at least 1, got "
                             f"since={since}, max_bytes={max_bytes}")
        chunks = self._chunks(uri)
        if not chunks:
            return LogSlice("", 0, 0, False)
        # From the chunk holding ``since`` to the one holding since + max_bytes.
        first = max((i for i, c in enumerate(chunks) if c.offset <= since), default=0)
        base, data, read_all = chunks[first].offset, b"", True
        for chunk in chunks[first:]:
            if chunk.offset >= since + max_bytes:
                read_all = False
                break
            data += self.blobs.read_bytes(chunk.uri)
        start = min(since, base + len(data))
        piece = data[start - base:start - base + max_bytes]
        if not piece.endswith(b"\n") and (cut := piece.rfind(b"\n") + 1):
            piece = piece[:cut]  # else one line is longer than max_bytes: that much of it
        after = start + len(piece)
        complete = chunks[-1].last and read_all and after == base + len(data)
        return LogSlice(piece.decode("utf-8", "replace"), start, after, complete)

    def tail(self, uri: str, lines: int = 200) -> LogSlice:
        """The last ``lines`` lines; reads only the chunks (the newest) that hold them."""
        if lines < 1:
            raise ValueError(f"lines must be at least 1, got {lines}")
        chunks = self._chunks(uri)
        if not chunks:
            return LogSlice("", 0, 0, False)
        data, base = b"", 0
        for chunk in reversed(chunks):
            data, base = self.blobs.read_bytes(chunk.uri) + data, chunk.offset
            if data.count(b"\n") > lines:  # the line break before the first line is in
                break
        cut = _last_lines(data, lines)
        return LogSlice(data[cut:].decode("utf-8", "replace"), base + cut, base + len(data),
                        chunks[-1].last)

    def clear(self, uri: str) -> None:
        """Delete the log at ``uri`` (an attempt run again under the same name replaces
        it: a map task's element when its map node or batch runs again)."""
        self.blobs.delete(uri)

    def _chunks(self, uri: str) -> list[_Chunk]:
        """The log's chunks in order (none when nothing is stored)."""
        try:
            found = self.blobs.find(uri)
        except StorageError:
            if not self.blobs.exists(uri):
                return []
            raise
        chunks = []
        for object_uri in found:
            name = object_uri.rsplit("/", 1)[-1]
            offset = name.split(".", 1)[0]
            if name.endswith(CHUNK_SUFFIX) and offset.isdigit():
                chunks.append(_Chunk(int(offset), object_uri, name.endswith(END_SUFFIX)))
        chunks.sort(key=lambda c: c.offset)
        return chunks


def _last_lines(data: bytes, lines: int) -> int:
    """Where the last ``lines`` lines of ``data`` begin (0: it has no more)."""
    pos = len(data) - 1 if data.endswith(b"\n") else len(data)
    for _ in range(lines):
        pos = data.rfind(b"\n", 0, pos)
        if pos < 0:
            return 0
    return pos + 1
