"""The job engine: the store of jobs and their counters, the per-row ledger, the producer,
job control, reports, the queue backlog, and the registry of job kinds (kinds/, intake/)."""
