"""Search over a store: embedding (offline model), the cross-lingual lexicon, hybrid ranking."""
