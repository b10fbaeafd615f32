using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace P2PSwarm.LoopbackBench;

/// <summary>
/// The floor pair of bench/interop/bench.js: what a single encrypted stream costs on this machine with no framework at
/// all. Noise transport frames (2-byte length, ChaCha20-Poly1305 of at most 65519 bytes, the same OpenSSL AEAD the
/// Node uses) over one TCP connection, blocking sockets, one thread per side, no multistream, no Yamux, no pipes, no
/// handshake (the dialer sends both keys in the clear first: it measures, it does not protect). The sender encrypts
/// 16 frames into one buffer and sends it with one call; the receiver reads up to 1 MiB per call and decrypts every
/// whole frame in it. Any Noise-over-TCP implementation does at least this work per byte, so no libp2p stack (ours,
/// js-libp2p, any) streams faster than this pair on the same machine in the same run.
/// </summary>
/// <remarks>
/// Requests are frames whose first plaintext byte says what they are: <c>P</c> + 32 bytes is echoed (a ping);
/// <c>S</c> + an 8-byte count announces that many bytes of data frames, answered with a frame carrying the count
/// received once they have all arrived.
/// </remarks>
internal static class FloorProtocol
{
    private const int TagLength = 16;
    private const int MaxCiphertext = 65535;
    private const int MaxPlaintext = MaxCiphertext - TagLength;
    private const int FramesPerSend = 16;
    private const int ReceiveBuffer = 1024 * 1024;

    /// <summary>Listens on 127.0.0.1, prints <c>host:port</c>, serves every connection on a thread of its own until stdin closes.</summary>
    public static async Task<int> ListenAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var thread = new Thread(() => AcceptLoop(listener)) { IsBackground = true, Name = "floor accept" };
        thread.Start();
        await Console.Out.WriteLineAsync(listener.LocalEndPoint!.ToString());
        await Console.Out.FlushAsync();
        await Console.In.ReadToEndAsync();
        return 0;
    }

    /// <summary>
    /// One long-lived dialer, as bench.js's other dialers: each stdin line is a listener's <c>host:port</c>, answered
    /// with one JSON line of ping RTTs and throughput. The first line for an address connects and warms up first.
    /// </summary>
    public static async Task<int> DialerAsync(int pings, int warmupPings, long bytes, long warmupBytes)
    {
        var connections = new Dictionary<string, Channel>(StringComparer.Ordinal);
        var block = new byte[1024 * 1024];
        RandomNumberGenerator.Fill(block);
        try
        {
            return await DialerLoop.RunAsync(
                address =>
                {
                    var channel = Channel.Dial(IPEndPoint.Parse(address));
                    connections.Add(address, channel);
                    channel.Sink(warmupBytes, block);
                    return Task.CompletedTask;
                },
                async address =>
                {
                    var channel = connections[address];
                    var rtts = await DialerLoop.PingsAsync(pings, warmupPings, () => Task.FromResult(channel.Ping()));
                    var started = Stopwatch.GetTimestamp();
                    return (rtts, DialerLoop.MibPerSecond(bytes, channel.Sink(bytes, block), started));
                });
        }
        finally
        {
            foreach (var channel in connections.Values)
            {
                channel.Dispose();
            }
        }
    }

    private static void AcceptLoop(Socket listener)
    {
        while (true)
        {
            var socket = listener.Accept();
            new Thread(() => Serve(socket)) { IsBackground = true, Name = "floor connection" }.Start();
        }
    }

    /// <summary>Serves one accepted connection until the dialer closes it.</summary>
    internal static void Serve(Socket socket)
    {
        using var owned = socket;
        try
        {
            using var channel = Channel.Accept(socket);
            channel.ServeRequests();
        }
        catch (Exception e) when (e is SocketException or EndOfStreamException)
        {
            // The dialer went away: its connection ends, the listener keeps serving others.
        }
        catch (Exception e) when (e is InvalidDataException or CryptographicException)
        {
            // Not a floor dialer, or a frame that fails authentication: that connection ends, the others go on.
            Console.Error.WriteLine($"floor: closed a connection: {e.Message}");
        }
    }

    /// <summary>One connection: a send and a receive cipher, a receive buffer, and the frames on it.</summary>
    internal sealed class Channel : IDisposable
    {
        private readonly Socket _socket;
        private readonly ChaCha20Poly1305 _send;
        private readonly ChaCha20Poly1305 _receive;
        private readonly byte[] _nonce = new byte[12];
        private readonly byte[] _inbound = new byte[ReceiveBuffer];
        private readonly byte[] _plaintext = new byte[MaxPlaintext];
        private readonly byte[] _outbound = new byte[FramesPerSend * (2 + MaxCiphertext)];
        private ulong _sendCounter;
        private ulong _receiveCounter;
        private int _start;
        private int _end;

        private Channel(Socket socket, byte[] sendKey, byte[] receiveKey)
        {
            _socket = socket;
            _socket.NoDelay = true;
            _send = new ChaCha20Poly1305(sendKey);
            _receive = new ChaCha20Poly1305(receiveKey);
        }

        public static Channel Dial(IPEndPoint endPoint)
        {
            var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            socket.Connect(endPoint);
            var keys = RandomNumberGenerator.GetBytes(64);
            socket.Send(keys);
            return new Channel(socket, keys[..32], keys[32..]);
        }

        public static Channel Accept(Socket socket)
        {
            var keys = new byte[64];
            for (var read = 0; read < keys.Length;)
            {
                var n = socket.Receive(keys.AsSpan(read));
                read += n > 0 ? n : throw new EndOfStreamException("The dialer closed before sending its keys.");
            }

            return new Channel(socket, keys[32..], keys[..32]);
        }

        public void ServeRequests()
        {
            Span<byte> answer = stackalloc byte[8];
            while (true)
            {
                var request = ReceiveFrame();
                if (request.Length == 33 && request[0] == (byte)'P')
                {
                    SendFrame(request);
                }
                else if (request.Length == 9 && request[0] == (byte)'S')
                {
                    var expected = BinaryPrimitives.ReadInt64LittleEndian(request[1..]);
                    long received = 0;
                    while (received < expected)
                    {
                        received += ReceiveFrame().Length;
                    }

                    BinaryPrimitives.WriteInt64LittleEndian(answer, received);
                    SendFrame(answer);
                }
                else
                {
                    throw new InvalidDataException($"floor: unknown request of {request.Length} bytes");
                }
            }
        }

        /// <summary>One ping: 32 random bytes out, the same back; the round trip in milliseconds.</summary>
        public double Ping()
        {
            Span<byte> request = stackalloc byte[33];
            request[0] = (byte)'P';
            RandomNumberGenerator.Fill(request[1..]);
            var started = Stopwatch.GetTimestamp();
            SendFrame(request);
            var answer = ReceiveFrame();
            var rtt = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            return answer.SequenceEqual(request) ? rtt : throw new InvalidDataException("floor: the ping came back changed");
        }

        /// <summary>Streams <paramref name="bytes"/> (the block repeated) and returns the count the listener reports.</summary>
        public long Sink(long bytes, byte[] block)
        {
            Span<byte> request = stackalloc byte[9];
            request[0] = (byte)'S';
            BinaryPrimitives.WriteInt64LittleEndian(request[1..], bytes);
            SendFrame(request);
            long sent = 0;
            var offset = 0;
            while (sent < bytes)
            {
                var filled = 0;
                for (var frame = 0; frame < FramesPerSend && sent < bytes; frame++)
                {
                    var length = (int)Math.Min(Math.Min(MaxPlaintext, bytes - sent), block.Length - offset);
                    filled += Encrypt(block.AsSpan(offset, length), _outbound.AsSpan(filled));
                    sent += length;
                    offset = (offset + length) % block.Length;
                }

                SendAll(_outbound.AsSpan(0, filled));
            }

            return BinaryPrimitives.ReadInt64LittleEndian(ReceiveFrame());
        }

        public void Dispose()
        {
            _socket.Dispose();
            _send.Dispose();
            _receive.Dispose();
        }

        private void SendFrame(ReadOnlySpan<byte> plaintext) => SendAll(_outbound.AsSpan(0, Encrypt(plaintext, _outbound)));

        /// <summary>Writes the length-prefixed frame of <paramref name="plaintext"/> at the start of <paramref name="destination"/>; returns its size.</summary>
        private int Encrypt(ReadOnlySpan<byte> plaintext, Span<byte> destination)
        {
            var ciphertextLength = plaintext.Length + TagLength;
            BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)ciphertextLength);
            BinaryPrimitives.WriteUInt64LittleEndian(_nonce.AsSpan(4), _sendCounter++);
            _send.Encrypt(_nonce, plaintext, destination.Slice(2, plaintext.Length), destination.Slice(2 + plaintext.Length, TagLength));
            return 2 + ciphertextLength;
        }

        /// <summary>The next frame's plaintext (valid until the next call).</summary>
        private ReadOnlySpan<byte> ReceiveFrame()
        {
            Fill(2);
            var ciphertextLength = BinaryPrimitives.ReadUInt16BigEndian(_inbound.AsSpan(_start));
            if (ciphertextLength < TagLength)
            {
                throw new InvalidDataException($"floor: a frame of {ciphertextLength} bytes is shorter than its tag");
            }

            Fill(2 + ciphertextLength);
            var ciphertext = _inbound.AsSpan(_start + 2, ciphertextLength - TagLength);
            var tag = _inbound.AsSpan(_start + 2 + ciphertext.Length, TagLength);
            var plaintext = _plaintext.AsSpan(0, ciphertext.Length);
            BinaryPrimitives.WriteUInt64LittleEndian(_nonce.AsSpan(4), _receiveCounter++);
            _receive.Decrypt(_nonce, ciphertext, tag, plaintext);
            _start += 2 + ciphertextLength;
            return plaintext;
        }

        /// <summary>Reads until <paramref name="count"/> bytes from <c>_start</c> are buffered, each call taking all that fits.</summary>
        private void Fill(int count)
        {
            if (_end - _start >= count)
            {
                return;
            }

            if (_start == _end)
            {
                _start = _end = 0;
            }
            else if (_inbound.Length - _start < count)
            {
                // Less than a frame left at the end of the buffer: move the partial frame to the front.
                _inbound.AsSpan(_start, _end - _start).CopyTo(_inbound);
                _end -= _start;
                _start = 0;
            }

            while (_end - _start < count)
            {
                var n = _socket.Receive(_inbound.AsSpan(_end));
                _end += n > 0 ? n : throw new EndOfStreamException("floor: the connection ended");
            }
        }

        private void SendAll(ReadOnlySpan<byte> bytes)
        {
            while (!bytes.IsEmpty)
            {
                bytes = bytes[_socket.Send(bytes)..];
            }
        }
    }
}
