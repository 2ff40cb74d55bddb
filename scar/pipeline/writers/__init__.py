"""Writers of SCaR files."""
