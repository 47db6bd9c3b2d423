"""Texts to vectors: the `Embedder` interface, the sentence-transformers backends (torch, ONNX, ONNX
int8), chunking of long texts, and the store's embedding cache, itself an `Embedder`.
"""
