// File I/O for captures lives here; the formats themselves are in the core (TCPIP/Capture).
