#!/usr/bin/env python3
"""Writes the seed corpus of the `connection` fuzz target (fuzz/targets/connection.swift)
into fuzz/corpus/connection/: one seed per state, each a short program (in-window data
with an ACK, a write, a poll, a read, a step to the next deadline, a close).
Standard library only. Run from anywhere: python3 fuzz/make-connection-seeds.py
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "connection")
STATES = ["closed", "listen", "syn-sent", "syn-received", "established", "fin-wait-1",
          "fin-wait-2", "closing", "time-wait", "close-wait", "last-ack"]

# Ops (see `ConnectionHarness.step`).
DATA_100 = bytes([0x90, 0x18, 0x20, 0, 0, 0, 100])   # ACK+PSH seq=RCV.NXT ack=SND.UNA, 100 bytes, poll
WRITE_200 = bytes([8, 0, 200])
POLL = bytes([15])
READ_256 = bytes([10, 1, 0])
TO_DEADLINE = bytes([7, 200])
CLOSE = bytes([11])
# Options: timestamps echoing our last TSval + one SACK block at SND.UNA+0..+100, poll.
SACK_ACK = bytes([0x80, 0x10, 0xA0, 0, 0, 0, 0x18, 0, 1, 0, 0, 0, 0, 100])
PROGRAM = DATA_100 + WRITE_200 + POLL + READ_256 + SACK_ACK + TO_DEADLINE + CLOSE + POLL + TO_DEADLINE

os.makedirs(OUT, exist_ok=True)
for i, name in enumerate(STATES):
    config = 0x07 if i % 2 else 0x00          # window scaling + timestamps + SACK on every other seed
    extra = (i % 4) | (0x04 if i % 3 == 0 else 0) | ((i % 4) << 3)  # ISS pair, passive path, buffer size
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([i, config, extra]) + PROGRAM)
print("wrote", len(STATES), "seeds to", OUT)
