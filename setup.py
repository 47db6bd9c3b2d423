"""Builds the one C extension, `matcher._abstracts` (OpenAlex abstracts rebuilt from JSON text).

Everything else about the package is in pyproject.toml. The extension is optional: without a C
compiler the install still succeeds and `matcher.sources.openalex_records` rebuilds abstracts
in Python (the same text, ~2x slower OpenAlex ingest).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("matcher._abstracts", ["matcher/_abstracts.c"], optional=True)])
