using System.Security.Cryptography;
using P2PSwarm.Node.Security;

namespace P2PSwarm.Node.Tests.Security;

/// <summary>The transport cipher's hot path: sealing and opening full frames allocates nothing.</summary>
public sealed class NoiseAllocationTests
{
    private const int Frames = 100;

    [Fact]
    public void Sealing_and_opening_full_frames_allocates_nothing()
    {
        var key = RandomNumberGenerator.GetBytes(NoiseCipherState.KeyLength);
        using var send = new NoiseCipherState(key);
        using var receive = new NoiseCipherState(key);
        var plaintext = RandomNumberGenerator.GetBytes(NoiseFrame.MaxPlaintextLength);
        var ciphertext = new byte[NoiseFrame.MaxMessageLength];
        var opened = new byte[NoiseFrame.MaxPlaintextLength];
        SealAndOpen(send, receive, plaintext, ciphertext, opened); // JIT and first-use costs

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Frames; i++)
        {
            SealAndOpen(send, receive, plaintext, ciphertext, opened);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(plaintext, opened);
    }

    private static void SealAndOpen(NoiseCipherState send, NoiseCipherState receive, byte[] plaintext, byte[] ciphertext, byte[] opened)
    {
        send.EncryptWithAd([], plaintext, ciphertext);
        if (!receive.TryDecryptWithAd([], ciphertext, opened))
        {
            throw new InvalidOperationException("A frame sealed with the same key did not open.");
        }
    }
}
