"""One module per kind of bulk job: its reader and checks, its chunk row format, its report
columns and its load functions. workers.jobs.registry lists them."""
