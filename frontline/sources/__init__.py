"""Inputs, one module per source: each reads its format and makes model objects.

Snapshots, gazetteers, roads, claims and events.
"""
