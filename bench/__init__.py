"""Load generators and the benchmark of BWT Chat; see docs/performance.md."""
