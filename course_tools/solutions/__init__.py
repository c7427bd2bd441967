"""Worked solutions to the exercises, one module per notebook (delete this folder for a student edition)."""
