"""Analyses of a store, one module or package per question (area, change, contact line, corridors, settlements, roads, claims, events, compare)."""
