"""Where passages, vectors and postings are kept: the generation folder (SQLite, FAISS, BM25,
the lexicon), its writer and its checks. The engine and the search layer reach it through
the protocols in index/stores/protocols.py."""
