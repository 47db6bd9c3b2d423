"""Builds the two C extensions for reading OpenAlex works fast: `matcher._abstracts` (abstracts
rebuilt from JSON text) and `matcher._gather` (works given to their authors).

Everything else about the package is in pyproject.toml. The extensions are optional: without a
C compiler the install still succeeds and `matcher.sources` does the same in Python (the same
result, a slower OpenAlex ingest).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("matcher._abstracts", ["matcher/_abstracts.c"], optional=True),
        Extension("matcher._gather", ["matcher/_gather.c"], optional=True),
    ]
)
