"""Speed and memory, measured as ratios against raw Ray doing the same work in one run."""
