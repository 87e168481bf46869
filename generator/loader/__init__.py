"""What the single DAG file calls: every spec (or, in a task process, one) into a DAG."""
