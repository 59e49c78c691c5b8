"""Importable, picklable task functions that the experiments hand to workers.

They live in modules, never in notebook cells, so that spawn and forkserver workers can
import them. Each module holds one kind of work: cpu (pure-Python computation, calibrated
by duration), memory (reading data a parent left behind).
"""
