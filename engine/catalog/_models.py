"""ORM rows of the data catalog (Flyte's DataCatalog model). Only catalog.store uses them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class SchemaVersion(Base):
    """The one row saying which migrations have run."""

    __tablename__ = "catalog_schema_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class Dataset(Base):
    """A cached task: flyte_task-<name> at <cache_version>-<inputs>-<outputs>."""

    __tablename__ = "catalog_datasets"
    __table_args__ = (UniqueConstraint("project", "domain", "name", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(255))
    domain: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(512))
    version: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Artifact(Base):
    """One memoized execution of a cached task."""

    __tablename__ = "catalog_artifacts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("catalog_datasets.id",
                                                       ondelete="CASCADE"), index=True)
    execution: Mapped[str] = mapped_column(String(255))
    node_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    # Blob URIs the outputs refer to, deleted with the artifact.
    blob_uris: Mapped[list[str]] = mapped_column(JSON)


class ArtifactData(Base):
    """One output of an artifact: its stored form (inline JSON or a URI)."""

    __tablename__ = "catalog_artifact_data"
    artifact_id: Mapped[str] = mapped_column(ForeignKey("catalog_artifacts.id",
                                                        ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[dict[str, object]] = mapped_column(JSON)


class Tag(Base):
    """flyte_cached-<hash of the input values>: finds the artifact of given inputs."""

    __tablename__ = "catalog_tags"
    dataset_id: Mapped[int] = mapped_column(ForeignKey("catalog_datasets.id",
                                                       ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    artifact_id: Mapped[str] = mapped_column(ForeignKey("catalog_artifacts.id",
                                                        ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Reservation(Base):
    """cache_serialize: who computes a key while others wait; expires if not renewed."""

    __tablename__ = "catalog_reservations"
    dataset_id: Mapped[int] = mapped_column(ForeignKey("catalog_datasets.id",
                                                       ondelete="CASCADE"), primary_key=True)
    tag_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
