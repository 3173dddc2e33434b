"""citebot's core: corpus, passages, embeddings, the FAISS/BM25 store, search and quotes."""
