"""Filters: each keeps or drops a sample, with a reason for each drop."""
