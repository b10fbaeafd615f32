using System.Buffers;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using P2PSwarm.Node.Security;

namespace P2PSwarm.Benchmarks;

/// <summary>
/// One Noise transport frame: encrypt + frame on the way out, scan + decrypt on the way in. Budget: zero bytes
/// allocated per frame.
/// </summary>
[MemoryDiagnoser]
public class NoiseBenchmarks
{
    private NoiseCipherState _send = null!;
    private NoiseCipherState _receive = null!;
    private byte[] _plaintext = null!;
    private byte[] _frame = null!;
    private byte[] _sealedFrame = null!;
    private byte[] _decrypted = null!;

    /// <summary>1 KiB, and the largest plaintext one frame carries (65519 bytes).</summary>
    [Params(1024, 65519)]
    public int PlaintextLength { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var key = RandomNumberGenerator.GetBytes(NoiseCipherState.KeyLength);
        _send = new NoiseCipherState(key);
        _receive = new NoiseCipherState(key);
        _plaintext = RandomNumberGenerator.GetBytes(PlaintextLength);
        _frame = new byte[NoiseFrame.LengthPrefixSize + PlaintextLength + NoiseCipherState.TagLength];
        _decrypted = new byte[PlaintextLength];

        using var sealer = new NoiseCipherState(key);
        _sealedFrame = new byte[_frame.Length];
        NoiseFrame.WriteLengthPrefix(_sealedFrame, PlaintextLength + NoiseCipherState.TagLength);
        sealer.EncryptWithAd([], _plaintext, _sealedFrame.AsSpan(NoiseFrame.LengthPrefixSize));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _send.Dispose();
        _receive.Dispose();
    }

    [Benchmark]
    public int EncryptAndFrame()
    {
        var messageLength = PlaintextLength + NoiseCipherState.TagLength;
        NoiseFrame.WriteLengthPrefix(_frame, messageLength);
        return _send.EncryptWithAd([], _plaintext, _frame.AsSpan(NoiseFrame.LengthPrefixSize, messageLength));
    }

    [Benchmark]
    public bool ScanAndDecrypt()
    {
        // The frame was sealed at nonce 0; rewinding the receiver decrypts the same frame every time.
        _receive.Nonce = 0;
        var buffer = new ReadOnlySequence<byte>(_sealedFrame);
        if (!NoiseFrame.TryRead(ref buffer, out var message))
        {
            throw new InvalidOperationException("The sealed frame did not scan.");
        }

        return _receive.TryDecryptWithAd([], message.FirstSpan, _decrypted);
    }
}
