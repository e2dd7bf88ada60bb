"""The local sandbox: a moto server on loopback (`launcher.py` starts, finds and stops it;
`server.py` is the server, moto made a little closer to AWS)."""
