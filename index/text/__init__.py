"""Text tools shared by every layer of index/: jieba words and tags, character bigrams, the
English words of a question, and what a question asks (its profile and term weights)."""
