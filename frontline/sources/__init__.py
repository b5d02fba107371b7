"""Inputs, one module per source: each reads its format and makes model objects (snapshots, gazetteers, roads, claims, events)."""
