"""The corpus: one record schema, readers for every layout, grouped splits and samples, fingerprints."""
