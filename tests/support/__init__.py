"""Helpers shared by the tests and the benchmark: samples, the test beds, the cluster client, fakes. No tests here."""
