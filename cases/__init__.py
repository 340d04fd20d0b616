"""The case registry's data files, installed as `harness_cases`. See README.md here."""
