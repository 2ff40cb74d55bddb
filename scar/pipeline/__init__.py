"""The construction pipeline: Source -> steps -> filters -> writer."""
