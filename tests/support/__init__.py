"""Helpers shared by the tests: the real engine and fixture images, converted fixtures, recorded facts,
the parser oracle and strategies, kernels and payloads, layer builders, leftover-process checks."""
