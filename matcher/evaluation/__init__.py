"""Offline evaluation of match quality: real consortia, expertise judgments, the demo's planted structure."""
