"""Test support for the portal's test suites, benchmarks and soak: never imported by a service.

- `service`: real signed tokens (`TestIssuer`), fresh migrated databases, in-process apps
  with their real lifespan;
- `oidc`: a small PKCE client for identity's authorization server, and valid IINs;
- `processes`: services and gateways as real processes on free ports;
- `portal`: the whole `make run` portal as a real process;
- `plugin`: the pytest plugin that starts PostgreSQL and the broker for a test run.
"""
