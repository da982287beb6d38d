"""Test helpers (not tests): a dev OpenBao, Redis, JWKS and faulty servers, the APIs served
over real HTTP, token makers and stand-ins. Fixtures live in the conftest files and build on
these; benchmarks/ may import them too."""
