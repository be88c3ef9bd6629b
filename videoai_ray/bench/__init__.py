"""Benchmarks behind ``videoai bench``: each module measures one component and returns rows
``{"benchmark", "value", "unit"}``."""
