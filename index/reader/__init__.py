"""The trained reader: the exact answer span in short contexts, and a "not here" score."""

from index.reader.model import WEIGHTS_FILE, ReaderWeightsError
from index.reader.reader import Reader, ReadSpan, load_reader

__all__ = ["WEIGHTS_FILE", "ReadSpan", "Reader", "ReaderWeightsError", "load_reader"]
