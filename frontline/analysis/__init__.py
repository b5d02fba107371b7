"""Analyses of a store, one module or package per question.

Area, change, contact line, corridors, settlements, roads, claims, events, compare.
"""
