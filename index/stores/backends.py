"""The backends, side by side: how each opens a generation to serve and writes the next one.
Opening (IndexFolder.open) and building (the engine) both look the kind up here, so no other
module tests a backend's name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.stores.layout import IndexFolders, Manifest, WriterOptions
from index.stores.milvus import MilvusConnection, MilvusGeneration
from index.stores.milvus_writer import MilvusGenerationWriter
from index.stores.protocols import IndexWriter
from index.stores.segment_reader import SegmentReader
from index.stores.segment_writer import SegmentedWriter
from index.stores.served import ServedGeneration

Opener = Callable[[Path, Manifest, Callable[[str], SegmentReader], MilvusConnection], Any]
WriterFactory = Callable[[IndexFolders, MilvusConnection, WriterOptions, Any], IndexWriter]


def _open_local(
    folder: Path,
    manifest: Manifest,
    segment: Callable[[str], SegmentReader],
    milvus: MilvusConnection,
) -> ServedGeneration:
    if manifest.segments:
        return ServedGeneration(folder, manifest, [segment(n) for n in manifest.segments])
    # a generation from before segments: the folder is its one segment
    return ServedGeneration(folder, manifest, [SegmentReader(folder, manifest)])


def _open_milvus(
    folder: Path,
    manifest: Manifest,
    segment: Callable[[str], SegmentReader],
    milvus: MilvusConnection,
) -> MilvusGeneration:
    return MilvusGeneration(folder, manifest, milvus)


def _write_local(
    folders: IndexFolders, milvus: MilvusConnection, options: WriterOptions, parent: Any
) -> SegmentedWriter:
    return SegmentedWriter(folders, options, parent=parent)


def _write_milvus(
    folders: IndexFolders, milvus: MilvusConnection, options: WriterOptions, parent: Any
) -> MilvusGenerationWriter:
    return MilvusGenerationWriter(folders, options, conn=milvus, parent=parent)


def _nothing_to_reach(milvus: MilvusConnection) -> None:
    """Local files need no server."""


def _reach_milvus(milvus: MilvusConnection) -> None:
    """Connect now: a Milvus that cannot be reached is an error at start, not a fallback."""
    milvus.client  # noqa: B018  (connects, or MilvusUnavailableError naming the URI)


@dataclass(frozen=True, slots=True)
class Backend:
    open: Opener  # a generation, to serve
    write: WriterFactory  # the next generation
    reach: Callable[[MilvusConnection], None]  # raise when it cannot be used


BACKENDS: dict[str, Backend] = {
    "local": Backend(_open_local, _write_local, _nothing_to_reach),
    "milvus": Backend(_open_milvus, _write_milvus, _reach_milvus),
}
