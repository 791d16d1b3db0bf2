"""Devices beyond "cpu" and "cuda", each registered with the backend the first time it is named.

- ``strict``: numpy underneath, but its arrays refuse to mix with host arrays
  the way CuPy's do, so host/device slips fail on any machine.
"""
