"""Tools that read or time runs: the benchmark and the report. They may import everything else."""
