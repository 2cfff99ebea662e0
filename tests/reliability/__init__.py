"""The reliability and security suite (issue 9): faults, bad input, crashes and secrets, each
part with its own counts, printed at the end of the test run by this package's conftest."""
