"""Prometheus metrics, served at /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

open_sockets = Gauge("bwt_open_websockets", "WebSocket connections open on this process")
frames_received = Counter("bwt_frames_received_total", "Frames received from clients", ["type"])
frame_errors = Counter("bwt_frame_errors_total", "Error frames sent to clients", ["code"])
messages_stored = Counter("bwt_messages_stored_total", "Messages committed by this process")
slow_consumers = Counter("bwt_slow_consumers_total", "Sockets cut off for not keeping up")
send_batch_size = Histogram(
    "bwt_send_batch_size",
    "Sends stored together in one transaction (group commit)",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200),
)
