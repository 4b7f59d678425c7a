"""What the tests, the benchmarks and the demo share to drive the product from outside.

- `waiting`: poll a condition until it holds, with one failure message naming the last state seen;
  `wait_for_http` and `wait_for_ping` on top of it.
- `processes`: a server process in the background (moto, a registry, MLServer, `serve`), ready
  or reported, always stopped.
- `containers`: the image under Docker (through the Docker SDK), always removed.
- `moto`: a moto server on loopback, and the dummy AWS settings that go with it.
- `net`, `payloads`: free loopback ports, request bodies.
"""
