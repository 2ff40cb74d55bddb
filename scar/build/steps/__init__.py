"""Caption steps: element analysis and composition, swaps (lexical, relations, scenes),
the balanced candidate design."""
