using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using NSec.Cryptography;

namespace P2PSwarm.Benchmarks;

/// <summary>
/// Why <c>NoiseCipherState</c> uses the platform's ChaCha20-Poly1305 (OpenSSL on Linux) and not NSec (libsodium):
/// one full Noise frame (65519 plaintext bytes) sealed and opened with each, ratio from the same run.
/// NSec also keeps every key in a guarded allocation (4 memory mappings per key).
/// </summary>
[MemoryDiagnoser]
public class NoiseAeadBenchmarks : IDisposable
{
    private const int PlaintextLength = 65519;
    private const int TagLength = 16;

    private readonly byte[] _nonce = new byte[12];
    private readonly byte[] _plaintext = RandomNumberGenerator.GetBytes(PlaintextLength);
    private readonly byte[] _ciphertext = new byte[PlaintextLength + TagLength];
    private readonly byte[] _opened = new byte[PlaintextLength];
    private readonly NSec.Cryptography.Key _nsecKey;
    private readonly System.Security.Cryptography.ChaCha20Poly1305 _platform;

    public NoiseAeadBenchmarks()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        _nsecKey = NSec.Cryptography.Key.Import(AeadAlgorithm.ChaCha20Poly1305, key, KeyBlobFormat.RawSymmetricKey);
        _platform = new System.Security.Cryptography.ChaCha20Poly1305(key);
    }

    [Benchmark(Baseline = true)]
    public bool NSecSealAndOpen()
    {
        AeadAlgorithm.ChaCha20Poly1305.Encrypt(_nsecKey, _nonce, [], _plaintext, _ciphertext);
        return AeadAlgorithm.ChaCha20Poly1305.Decrypt(_nsecKey, _nonce, [], _ciphertext, _opened);
    }

    [Benchmark]
    public bool PlatformSealAndOpen()
    {
        _platform.Encrypt(_nonce, _plaintext, _ciphertext.AsSpan(0, PlaintextLength), _ciphertext.AsSpan(PlaintextLength), []);
        _platform.Decrypt(_nonce, _ciphertext.AsSpan(0, PlaintextLength), _ciphertext.AsSpan(PlaintextLength), _opened, []);
        return true;
    }

    public void Dispose()
    {
        _nsecKey.Dispose();
        _platform.Dispose();
        GC.SuppressFinalize(this);
    }
}
