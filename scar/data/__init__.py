"""Bundled data: vocabularies and the sample annotations."""
