"""Serve models over HTTP: the Open Inference Protocol (V2), batching, routing, prediction log."""
