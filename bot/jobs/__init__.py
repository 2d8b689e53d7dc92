"""The job engine: every request becomes a journaled job that a fair queue runs, times and delivers."""
