#!/usr/bin/env python3
"""The floor under any encrypted single stream on this machine: plain loopback TCP between two processes (1 MiB
sendall / recv_into), MiB/s and CPU per MiB of each side. Usage: tcp_floor.py [MIB]. Add the AEAD cost
(`openssl speed -evp chacha20-poly1305 -bytes 65536`) per side for the bound of Noise over TCP."""
import os, socket, sys, time, resource
MIB = 1 << 20
total = int(sys.argv[1]) if len(sys.argv) > 1 else 4096
ls = socket.socket(); ls.bind(('127.0.0.1', 0)); ls.listen(1)
port = ls.getsockname()[1]
pid = os.fork()
if pid == 0:
    s = socket.create_connection(('127.0.0.1', port)); buf = bytes(MIB)
    for _ in range(total): s.sendall(buf)
    s.shutdown(socket.SHUT_WR); s.recv(1); os._exit(0)
c, _ = ls.accept(); buf = bytearray(MIB); mv = memoryview(buf); got = 0
t0 = time.perf_counter(); r0 = resource.getrusage(resource.RUSAGE_SELF)
while got < total * MIB:
    n = c.recv_into(mv)
    if n == 0: break
    got += n
t1 = time.perf_counter(); r1 = resource.getrusage(resource.RUSAGE_SELF)
c.close(); os.waitpid(pid, 0); rc = resource.getrusage(resource.RUSAGE_CHILDREN)
recv_cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
send_cpu = rc.ru_utime + rc.ru_stime
print(f"plain loopback TCP, {total} MiB: {got/MIB/(t1-t0):.0f} MiB/s; CPU per MiB: receiver {recv_cpu*1000/total:.3f} ms, sender {send_cpu*1000/total:.3f} ms")
