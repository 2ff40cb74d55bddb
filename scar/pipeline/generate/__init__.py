"""Caption composition and negative generation."""
