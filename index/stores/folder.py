"""The index folder: finds, verifies, switches and prunes generations; one build at a time."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from corpus import CHUNKER_VERSION, Article
from index.stores.backends import BACKENDS
from index.stores.layout import (
    DELETED_ARTICLES,
    FAISS_NAME,
    KEEP_GENERATIONS,
    MANIFEST_NAME,
    READABLE_FORMATS,
    REBUILD_HINT,
    SEGMENTS_DIR,
    SQLITE_NAME,
    BuildCancelledError,
    BuildLockedError,
    Draft,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    IndexStoreError,
    IndexWriteError,
    Manifest,
    fsync_dir,
    generation_name,
    sha256_file,
)
from index.stores.milvus import MilvusConfig, MilvusConnection, MilvusGeneration
from index.stores.segment_reader import SegmentReader, read_articles_unchecked
from index.stores.served import SEGMENT_KEY, ServedGeneration

log = logging.getLogger(__name__)

VERIFIED_NAME = ".verified.json"
# Files up to this size (every manifest; the SQLite files of all but very large indexes) are
# hashed whenever a process opens them, whatever their stamps say: a byte changed with the
# modification time put back is caught at the next start. Larger ones are trusted by stamp
# at start and hashed by the background verify (Engine.check_integrity).
HASH_AT_START_BYTES = 256 * 2**20
# A file modified this close to when it was checked may have been changed again within the
# same tick of the file system's clock: its stamp is not trusted (git's "racy clean" rule).
RACY_SECONDS = 2.0


class VerifiedFiles:
    """Stamps (size, modification time) of index files at the moment they last matched their
    checksum. Serving a million passages means tens of GB of segment files: hashing them at
    every start cost most of a cold start, yet they are immutable. A file with the stamp it
    had when it matched is taken as unchanged; any write through the file system changes its
    stamp and it is hashed again; `shuzi index verify` hashes everything regardless."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamps: dict[str, list[Any]] | None = None

    def _load(self) -> dict[str, list[Any]]:
        if self._stamps is None:
            try:
                self._stamps = json.loads(self.path.read_text())
            except (OSError, ValueError):
                self._stamps = {}
        return self._stamps  # type: ignore[return-value]

    @staticmethod
    def _stat(path: Path) -> list[int]:
        st = path.stat()
        return [st.st_size, st.st_mtime_ns, st.st_ino]

    def unchanged(self, path: Path, digest: str) -> bool:
        stamp = self._load().get(str(path))
        if not stamp:
            return False
        size, mtime, inode, checked, known = stamp
        racy = mtime / 1e9 > checked - RACY_SECONDS
        return not racy and known == digest and self._stat(path) == [size, mtime, inode]

    def check(self, path: Path, digest: str) -> bool:
        """Hash the file; when it matches, remember its stamp."""
        before = self._stat(path)
        if sha256_file(path) != digest:
            if self._load().pop(str(path), None) is not None:  # never trusted by stamp again
                self._save()
            return False
        if self._stat(path) == before:
            self._load()[str(path)] = [*before, time.time(), digest]
            self._save()
        return True

    def _save(self) -> None:
        stamps = self._load()
        for key in [k for k in stamps if not Path(k).exists()]:
            del stamps[key]
        tmp = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
        with contextlib.suppress(OSError):
            tmp.write_text(json.dumps(stamps))
            os.replace(tmp, self.path)


# What serving reads: a local generation (its segments) or one on Milvus.
ServingGeneration = ServedGeneration | MilvusGeneration

__all__ = [
    "FAISS_NAME",
    "MANIFEST_NAME",
    "SQLITE_NAME",
    "BuildCancelledError",
    "BuildLockedError",
    "IndexCorruptError",
    "IndexFolder",
    "IndexMismatchError",
    "IndexMissingError",
    "IndexStoreError",
    "IndexWriteError",
    "SegmentReader",
]


class IndexFolder:
    """The index folder: finds, verifies, writes and switches generations."""

    def __init__(
        self,
        root: Path,
        *,
        keep: int = KEEP_GENERATIONS,
        milvus: MilvusConnection | None = None,
        hash_at_start_bytes: int = HASH_AT_START_BYTES,
    ) -> None:
        self.root = root
        self.hash_at_start_bytes = hash_at_start_bytes
        self.generations = root / "generations"
        self.segments = root / SEGMENTS_DIR
        self.keep = keep
        # segments are immutable and shared by generations: each is verified and loaded once
        # per process, and an add loads only its own (a million passages' HNSW is not read
        # again); those the serving generation no longer reads are let go
        self._open_segments: dict[str, SegmentReader] = {}
        self._verified = VerifiedFiles(root / VERIFIED_NAME)
        # generations whose vectors live in Milvus are read through this connection; it
        # connects on first use, so a local-only index never starts Milvus
        self.milvus = milvus or MilvusConnection(MilvusConfig(uri=str(root / "milvus.db")))

    # -- reading -------------------------------------------------------------------------
    def current_number(self) -> int | None:
        pointer = self.root / "CURRENT"
        if not pointer.exists():
            return None
        name = pointer.read_text().strip()
        if not (name.startswith("g") and name[1:].isdigit()):
            raise IndexCorruptError(
                f"{pointer} does not name a generation ({name!r}); {REBUILD_HINT}"
            )
        return int(name[1:])

    def generation_numbers(self) -> list[int]:
        if not self.generations.exists():
            return []
        return sorted(
            int(p.name[1:])
            for p in self.generations.iterdir()
            if p.is_dir() and p.name.startswith("g") and p.name[1:].isdigit()
        )

    def read_manifest(self, number: int) -> Manifest:
        return self._manifest_in(self.generations / generation_name(number))

    @staticmethod
    def _manifest_in(folder: Path) -> Manifest:
        path = folder / MANIFEST_NAME
        try:
            return Manifest.from_json(path.read_text())
        except FileNotFoundError:
            raise IndexCorruptError(f"{path} is missing; {REBUILD_HINT}") from None
        except (ValueError, TypeError, KeyError) as exc:
            raise IndexCorruptError(f"{path} cannot be read ({exc}); {REBUILD_HINT}") from exc

    def verify(self, number: int, *, full: bool = False) -> Manifest:
        """Check a generation's files (and its segments') against their manifests; raise
        naming the bad file. Unless `full`, a file larger than `hash_at_start_bytes` whose
        size and modification time are those it had when it last matched is not hashed
        again (VerifiedFiles)."""
        manifest = self.read_manifest(number)
        folder = self.generations / generation_name(number)
        if manifest.format not in READABLE_FORMATS:
            raise IndexMismatchError(
                f"{folder} has index format {manifest.format}, this Shuzi reads "
                f"{', '.join(map(str, READABLE_FORMATS))}; {REBUILD_HINT}"
            )
        self._verify_files(folder, manifest, full=full)
        if full:
            for name in manifest.segments:
                seg = self.segments / name
                self._verify_files(seg, self._manifest_in(seg), full=True)
        return manifest

    def _verify_files(self, folder: Path, manifest: Manifest, *, full: bool = False) -> None:
        for rel, digest in manifest.files.items():
            if rel.startswith(SEGMENT_KEY):  # a generation's checksum of a segment's manifest
                path = self.segments / rel.removeprefix(SEGMENT_KEY) / MANIFEST_NAME
            else:
                path = folder / rel
            if not path.exists():
                raise IndexCorruptError(f"{path} is missing; {REBUILD_HINT}")
            trusted = (
                not full
                and path.stat().st_size > self.hash_at_start_bytes
                and self._verified.unchanged(path, digest)
            )
            if not trusted and not self._verified.check(path, digest):
                raise IndexCorruptError(
                    f"{path} does not match its checksum in {MANIFEST_NAME} (corrupt or "
                    f"changed by hand); {REBUILD_HINT}, or `shuzi index rollback`"
                )

    def _segment(self, name: str) -> SegmentReader:
        """A segment of a generation, verified and loaded once (see _open_segments)."""
        seg = self._open_segments.get(name)
        if seg is None:
            folder = self.segments / name
            manifest = self._manifest_in(folder)
            self._verify_files(folder, manifest)
            seg = SegmentReader(folder, manifest)
            seg.check_counts()
            self._open_segments[name] = seg
        return seg

    def open(self, number: int | None = None, *, model: str | None = None) -> ServingGeneration:
        """Load and verify a generation (default: the current one) for serving."""
        number = self.current_number() if number is None else number
        if number is None:
            raise IndexMissingError(f"no index in {self.root}; {REBUILD_HINT}")
        manifest = self.verify(number)
        if model is not None and manifest.model != model:
            raise IndexMismatchError(
                f"the index in {self.root} was built with model {manifest.model!r}, but "
                f"{model!r} is configured: run `shuzi index build` to rebuild it with the "
                f"configured model, or set SHUZI_MODEL={manifest.model}"
            )
        if manifest.chunker_version != CHUNKER_VERSION:
            raise IndexMismatchError(
                f"the index in {self.root} was split by chunker version "
                f"{manifest.chunker_version}, this Shuzi uses {CHUNKER_VERSION}; {REBUILD_HINT}"
            )
        folder = self.generations / generation_name(number)
        backend = BACKENDS.get(manifest.store)
        if backend is None:
            raise IndexMismatchError(
                f"{folder} keeps its vectors in {manifest.store!r}, which this Shuzi does not "
                f"know; {REBUILD_HINT}"
            )
        gen: ServingGeneration = backend.open(folder, manifest, self._segment, self.milvus)
        # segments are loaded once per process; those this generation does not read go
        self._open_segments = {
            name: seg for name, seg in self._open_segments.items() if name in manifest.segments
        }
        try:
            gen.check_counts()
        except IndexStoreError:
            gen.close()
            raise
        return gen

    def salvage_articles(self) -> list[Article]:
        """The articles the current generation serves, read straight from its SQLite files
        with no checksum, model or version check: when the generation cannot be served (a
        corrupt vector file, another model configured), a rebuild still must not lose what
        only it holds. Files that cannot be read are skipped with a warning."""
        number = self.current_number()
        if number is None:
            return []
        folder = self.generations / generation_name(number)
        manifest = self.read_manifest(number)
        if manifest.segments:  # a generation of segments; else its folder holds its SQLite
            path = folder / DELETED_ARTICLES
            gone = json.loads(path.read_text()) if path.exists() else {}
            sources = [
                (self.segments / n / SQLITE_NAME, set(gone.get(n, ()))) for n in manifest.segments
            ]
        else:
            sources = [(folder / SQLITE_NAME, set())]
        found: dict[str, Article] = {}
        for db_path, deleted in sources:
            try:
                articles = read_articles_unchecked(db_path)
            except sqlite3.Error as exc:
                log.warning("cannot salvage articles from %s: %s", db_path, exc)
                continue
            found.update((a.id, a) for a in articles if a.id not in deleted)
        return list(found.values())

    # -- writing -------------------------------------------------------------------------
    @contextlib.contextmanager
    def build_lock(self) -> Iterator[None]:
        """One build at a time, across threads and processes."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".build.lock").open("w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BuildLockedError(
                    "another build is running on this index; try again when it has finished"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def clean_partial(self) -> None:
        """Remove folders left by builds that crashed before their rename."""
        for parent in (self.generations, self.segments):
            if parent.exists():
                for p in parent.iterdir():
                    if p.name.startswith(".tmp-"):
                        shutil.rmtree(p, ignore_errors=True)

    def next_segment_number(self) -> int:
        """Above every segment's number, including those being written."""
        if not self.segments.exists():
            return 1
        numbers = [
            int(p.name.removeprefix(".tmp-")[1:7])
            for p in self.segments.iterdir()
            if p.name.removeprefix(".tmp-")[1:7].isdigit()
        ]
        return max(numbers, default=0) + 1

    def publish(self, draft: Draft) -> Manifest:
        """Serve a writer's finished generation: its new segments and its folder renamed into
        place (a crash before the switch leaves orphans the next build drops), then CURRENT
        switched atomically, then old generations pruned. Only the index folder does this."""
        if draft.segments:
            for folder, name in draft.segments:
                os.replace(folder, self.segments / name)
            fsync_dir(self.segments)
        os.replace(draft.folder, self.generations / generation_name(draft.manifest.generation))
        fsync_dir(self.generations)
        self.switch(draft.manifest.generation)
        self.prune()
        return draft.manifest

    def switch(self, number: int) -> None:
        """Point CURRENT at a generation, atomically."""
        pointer = self.root / "CURRENT"
        tmp = self.root / f"CURRENT.tmp-{os.getpid()}-{threading.get_ident()}"
        with tmp.open("w") as f:
            f.write(generation_name(number) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, pointer)
        fsync_dir(self.root)

    def prune(self) -> None:
        current = self.current_number()
        numbers = self.generation_numbers()
        for n in numbers[: max(0, len(numbers) - self.keep)]:
            if n != current:
                shutil.rmtree(self.generations / generation_name(n), ignore_errors=True)
        self.drop_unused_segments()
        self.drop_unused_collections()

    def drop_unused_segments(self) -> None:
        """Delete the segments that no kept generation reads (merged away, or left by a
        build that crashed before its generation was written). Nothing is deleted while a
        generation's manifest cannot be read: it might still need them."""
        if not self.segments.exists():
            return
        used: set[str] = set()
        for n in self.generation_numbers():
            try:
                used.update(self.read_manifest(n).segments)
            except IndexStoreError:
                return
        for p in self.segments.iterdir():
            if p.is_dir() and not p.name.startswith(".tmp-") and p.name not in used:
                shutil.rmtree(p, ignore_errors=True)

    def collections_in_use(self) -> set[str]:
        """The Milvus collections that kept generations read."""
        used = set()
        for n in self.generation_numbers():
            with contextlib.suppress(IndexStoreError):
                manifest = self.read_manifest(n)
                if manifest.collection:  # read from Milvus
                    used.add(manifest.collection)
        return used

    def drop_unused_collections(self) -> None:
        """Drop this index's Milvus collections that no kept generation reads (left by
        pruned generations or by builds that crashed), when Milvus is in use at all."""
        if not self.milvus.connected:
            return
        self.milvus.drop_unused(self.collections_in_use())
