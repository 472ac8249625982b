"""The HTTP API: thin routes over the job service, one table of error codes."""
