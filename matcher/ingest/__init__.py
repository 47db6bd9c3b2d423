"""Readers for the files researchers and funders already have, into validated profiles.

Pure parsing: each reader takes a path and returns a `matcher.ingest.readers.ReadResult` (profiles with
their location, rejections with file, line or JSON path and reason, and notes); nothing here
touches the store or the embedder.

- `openalex`: OpenAlex author and work records (API pages, snapshot JSON Lines).
- `orcid`: ORCID v3.0 records.
- `cordis`: the CORDIS project.csv + organization.csv export pair.
- `spreadsheet`: CSV/XLSX registration forms through a YAML column mapping.
- `merge`: one profile per person across records (same ORCID, OpenAlex id or profile id).
- `detect`: `read_source`, which detects the format, reads and merges.

Shared parts: `bounds` (`ReadLimits`: the most a line, a cell, a document or a zip may hold, and
the bounded line reader every reader uses), `files` (JSON shapes and locations), `delimited`
(CSV rows of unknown encoding and delimiter), `archives` (zip members checked before they are
unpacked), `build` (fast construction of profiles that `parse_profile` would accept),
`openalex_records` (pure per-record OpenAlex functions) and `parallel` (JSON decoding of large
files in worker processes).
"""

from matcher.ingest.bounds import ReadLimits
from matcher.ingest.cordis import read_cordis
from matcher.ingest.detect import FORMATS, detect_source, read_source, read_sources
from matcher.ingest.merge import merge_profiles
from matcher.ingest.openalex import read_openalex
from matcher.ingest.orcid import read_orcid
from matcher.ingest.spreadsheet import load_mapping, read_spreadsheet

__all__ = [
    "FORMATS",
    "ReadLimits",
    "detect_source",
    "load_mapping",
    "merge_profiles",
    "read_cordis",
    "read_openalex",
    "read_orcid",
    "read_source",
    "read_sources",
    "read_spreadsheet",
]
