"""The job engine: the store of jobs and their counters, the per-row ledger, the producer,
job control, reports, the queue backlog, and the registry of job kinds (each kind in kinds/;
intake/ is the generic CSV reading and phone checks they share)."""
