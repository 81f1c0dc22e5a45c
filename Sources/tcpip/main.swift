print("tcpip")
