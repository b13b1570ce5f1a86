"""Headless reference worlds built from components and processors."""
