"""Backup and restore of a whole installation: store, rasters, accounts and data files."""
