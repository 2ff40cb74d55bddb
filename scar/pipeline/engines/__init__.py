"""Engines run the steps over the image groups of a source."""
