"""The admin's side of executions: the execution service, launching drivers, the
supervisor loop and the scheduler."""
