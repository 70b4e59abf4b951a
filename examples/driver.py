"""A driver script: run the example workflow from plain Python.

Locally:            python examples/driver.py
On a Ray cluster:   ray job submit --working-dir examples -- python driver.py
"""

from basics import wf

if __name__ == "__main__":
    print(wf(n=500, mean=42.0, sigma=2.0))
