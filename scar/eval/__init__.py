"""The scoring half: tasks (SCaR x5, MMEB x36), embedders, the harness, metrics, results,
distributed evaluation and the blind audit. ``scar.eval`` never imports ``scar.build``."""
