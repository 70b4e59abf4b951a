"""The data catalog's storage: SQLAlchemy over SQLite (embedded) or PostgreSQL (by URL).

The narrow interface of the catalog; ORM rows never leave this module. Writes
are short transactions, ``BEGIN IMMEDIATE`` on SQLite (WAL, busy timeout), and a
"database is locked" that still escapes is retried, not surfaced. Two writers of
one key leave exactly one artifact: the tag's primary key decides who wins.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from engine.catalog._models import (
    Artifact,
    ArtifactData,
    Base,
    Dataset,
    Reservation,
    SchemaVersion,
    Tag,
)
from engine.catalog.keys import CacheKey
from engine.catalog.sql import first_line, migrate, open_engines, retrying, safe_url
from engine.errors import CatalogError

R = TypeVar("R")

# Key of the PostgreSQL advisory lock that serializes migrations of the catalog schema
# (the admin store uses another one, so both may share a database).
_MIGRATION_LOCK = 727274

# (version, what it does to the schema); applied in order, once, by any process.
_MIGRATIONS: list[tuple[int, Callable[[Any], None]]] = [
    (1, Base.metadata.create_all),
]
_DATASET_PREFIX = "flyte_task-"


@dataclass(frozen=True)
class CachedArtifact:
    """A memoized execution found by its key."""

    id: str
    outputs: dict[str, dict[str, Any]]  # output name -> stored form (engine.catalog.literals)
    blob_uris: list[str]
    # Who computed it: the engine's name of the run (ExecutionRecord.name) and the node.
    execution: str
    node_id: str


@dataclass(frozen=True)
class CacheEntry:
    """One row of ``flyray cache list``."""

    artifact_id: str
    project: str
    domain: str
    task: str
    version: str
    tag: str
    created_at: dt.datetime
    size_bytes: int
    execution: str
    node_id: str
    blob_uris: list[str]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite returns naive datetimes; every stored time is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


class CatalogStore:
    """Datasets, artifacts, tags and reservations in one SQL database."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self._read, self._write = open_engines(url)
            self._retry(self._migrate)
        except (SQLAlchemyError, OSError, CatalogError) as e:
            raise CatalogError(f"cannot open the data catalog at {safe_url(url)}: "
                               f"{first_line(e)}") from e

    def close(self) -> None:
        self._read.dispose()
        self._write.dispose()

    # --- transactions ------------------------------------------------------------------

    @contextmanager
    def _session(self, write: bool) -> Iterator[Session]:
        with Session(self._write if write else self._read) as session, session.begin():
            yield session

    def _retry(self, fn: Callable[[], R]) -> R:
        """``fn`` (one transaction), run again when the database asks for it; any other
        database failure becomes a CatalogError."""
        return retrying(fn, lambda e: CatalogError(
            f"data catalog at {safe_url(self.url)}: {first_line(e)}"))

    def _migrate(self) -> None:
        with self._session(write=True) as s:
            migrate(s, _MIGRATIONS, SchemaVersion, _MIGRATION_LOCK)

    # --- lookups and writes ------------------------------------------------------------

    def _dataset_id(self, s: Session, key: CacheKey, create: bool) -> int | None:
        found = s.scalar(select(Dataset.id).where(
            Dataset.project == key.project, Dataset.domain == key.domain,
            Dataset.name == key.dataset, Dataset.version == key.version))
        if found is not None or not create:
            return found
        dataset = Dataset(project=key.project, domain=key.domain, name=key.dataset,
                          version=key.version, created_at=_now())
        s.add(dataset)
        s.flush()
        return dataset.id

    def lookup(self, key: CacheKey) -> CachedArtifact | None:
        def find() -> CachedArtifact | None:
            with self._session(write=False) as s:
                dataset_id = self._dataset_id(s, key, create=False)
                if dataset_id is None:
                    return None
                artifact = s.scalar(select(Artifact).join(
                    Tag, Tag.artifact_id == Artifact.id).where(
                    Tag.dataset_id == dataset_id, Tag.name == key.tag))
                if artifact is None:
                    return None
                data = s.scalars(select(ArtifactData).where(
                    ArtifactData.artifact_id == artifact.id)).all()
                return CachedArtifact(artifact.id, {d.name: d.value for d in data},
                                      list(artifact.blob_uris), artifact.execution,
                                      artifact.node_id)
        return self._retry(find)

    def put(self, key: CacheKey, outputs: dict[str, dict[str, Any]], *, execution: str,
            node_id: str, size_bytes: int, blob_uris: list[str],
            replace: bool = False) -> tuple[str, list[str]]:
        """Record an artifact under ``key``; returns (artifact id, blob URIs now unused).

        Without ``replace`` an existing artifact of the key wins and is returned, and
        the new outputs' blobs are the unused ones; with it the old one is replaced.
        """
        def write() -> tuple[str, list[str]]:
            with self._session(write=True) as s:
                dataset_id = self._dataset_id(s, key, create=True)
                assert dataset_id is not None
                existing = s.scalar(select(Artifact).join(
                    Tag, Tag.artifact_id == Artifact.id).where(
                    Tag.dataset_id == dataset_id, Tag.name == key.tag))
                unused: list[str] = []
                if existing is not None:
                    if not replace:
                        return existing.id, list(blob_uris)
                    unused = [u for u in existing.blob_uris if u not in blob_uris]
                    s.execute(delete(Tag).where(Tag.dataset_id == dataset_id,
                                                Tag.name == key.tag))
                    s.execute(delete(ArtifactData).where(
                        ArtifactData.artifact_id == existing.id))
                    s.execute(delete(Artifact).where(Artifact.id == existing.id))
                artifact_id = uuid.uuid4().hex
                s.add(Artifact(id=artifact_id, dataset_id=dataset_id, execution=execution,
                               node_id=node_id, created_at=_now(), size_bytes=size_bytes,
                               blob_uris=blob_uris))
                s.flush()
                s.add_all([ArtifactData(artifact_id=artifact_id, name=n, value=v)
                           for n, v in outputs.items()])
                s.add(Tag(dataset_id=dataset_id, name=key.tag, artifact_id=artifact_id,
                          created_at=_now()))
                return artifact_id, unused
        return self._retry(write)

    # --- cache_serialize ---------------------------------------------------------------

    def reserve(self, key: CacheKey, owner: str, ttl_s: float) -> bool:
        """Take (or renew) the right to compute ``key``; False while another holds it.

        One conditional UPDATE decides between racing owners (only one sees the old
        row still expired); a missing row is inserted, and a racing insert retries.
        """
        def take() -> bool:
            with self._session(write=True) as s:
                dataset_id = self._dataset_id(s, key, create=True)
                assert dataset_id is not None
                now = _now()
                taken = s.execute(update(Reservation).where(
                    Reservation.dataset_id == dataset_id, Reservation.tag_name == key.tag,
                    or_(Reservation.owner == owner, Reservation.expires_at <= now),
                ).values(owner=owner, expires_at=now + dt.timedelta(seconds=ttl_s)))
                if taken.rowcount:  # type: ignore[attr-defined]
                    return True
                if s.get(Reservation, (dataset_id, key.tag)) is not None:
                    return False
                s.add(Reservation(dataset_id=dataset_id, tag_name=key.tag, owner=owner,
                                  expires_at=now + dt.timedelta(seconds=ttl_s)))
                return True
        return self._retry(take)

    def release(self, key: CacheKey, owner: str) -> None:
        def drop() -> None:
            with self._session(write=True) as s:
                dataset_id = self._dataset_id(s, key, create=False)
                if dataset_id is not None:
                    s.execute(delete(Reservation).where(
                        Reservation.dataset_id == dataset_id, Reservation.tag_name == key.tag,
                        Reservation.owner == owner))
        self._retry(drop)

    # --- management --------------------------------------------------------------------

    def entries(self, task: str | None = None, version: str | None = None,
                older_than: dt.datetime | None = None) -> list[CacheEntry]:
        """Cached artifacts, newest first; ``task`` and ``version`` filter exactly."""
        def read() -> list[CacheEntry]:
            with self._session(write=False) as s:
                query = select(Artifact, Dataset, Tag).join(
                    Dataset, Dataset.id == Artifact.dataset_id).join(
                    Tag, Tag.artifact_id == Artifact.id)
                if task is not None:
                    query = query.where(Dataset.name == _DATASET_PREFIX + task)
                if older_than is not None:
                    query = query.where(Artifact.created_at < older_than)
                rows = s.execute(query.order_by(Artifact.created_at.desc())).all()
                return [CacheEntry(
                    a.id, d.project, d.domain, d.name.removeprefix(_DATASET_PREFIX),
                    d.version, t.name, _aware(a.created_at), a.size_bytes, a.execution,
                    a.node_id, list(a.blob_uris)) for a, d, t in rows
                    if version is None or cache_version_of(d.version) == version]
        return self._retry(read)

    def delete(self, artifact_ids: list[str]) -> list[str]:
        """Remove artifacts (with their tags and data); returns their blob URIs."""
        def remove() -> list[str]:
            with self._session(write=True) as s:
                rows = s.scalars(select(Artifact).where(Artifact.id.in_(artifact_ids))).all()
                uris = [u for a in rows for u in a.blob_uris]
                s.execute(delete(Tag).where(Tag.artifact_id.in_(artifact_ids)))
                s.execute(delete(ArtifactData).where(ArtifactData.artifact_id.in_(artifact_ids)))
                s.execute(delete(Artifact).where(Artifact.id.in_(artifact_ids)))
                return uris
        return self._retry(remove)


def cache_version_of(dataset_version: str) -> str:
    """The cache_version part of ``<cache_version>-<inputs hash>-<outputs hash>``."""
    return dataset_version.rsplit("-", 2)[0]
