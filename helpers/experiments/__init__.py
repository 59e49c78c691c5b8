"""One module per lesson: each runs workloads under helpers.measure() and returns a Result."""
