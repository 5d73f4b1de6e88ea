"""The `gate` command: one module per command group, the typer app assembled in main.py.

The top layer: may import anything in gate and training.
"""
