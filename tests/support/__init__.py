"""Helpers the tests share, one module per subject (the test adapters, the console, SMEV
messages, waiting...). Tests import from here rather than from one another, so that a test
module stays a list of tests and moving one never breaks another."""
