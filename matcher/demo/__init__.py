"""The shipped demo pool: its generator, its vocabulary, and loading it (with its vectors) into a store."""
