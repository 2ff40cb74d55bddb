"""The construction half: source annotations -> samples -> caption and negative steps ->
filters -> Parquet in the released SCaR schema, with its card, validation and publishing.

``scar.build`` never imports ``scar.eval``; the CLI joins the two halves.
"""
