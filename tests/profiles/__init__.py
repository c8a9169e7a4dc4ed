"""Tests of core.profiles: namespaces, the identity graph, merge policies, queries."""
