using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Security;

namespace P2PSwarm.Benchmarks;

/// <summary>
/// Two secured channels over in-memory pipes, pumps included: each operation sends 64 full frames
/// (64 x 65519 bytes) one way and reads them out; BenchmarkDotNet divides by 64, so the numbers are per frame. Budget: 0 bytes.
/// </summary>
[MemoryDiagnoser]
public class SecureChannelBenchmarks
{
    private const int FramesPerOperation = 64;

    private IdentityKey _dialerKey = null!;
    private IdentityKey _listenerKey = null!;
    private SecureChannel _dialer = null!;
    private SecureChannel _listener = null!;
    private byte[] _payload = null!;

    [GlobalSetup]
    public void Setup()
    {
        var options = new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false);
        var toListener = new Pipe(options);
        var toDialer = new Pipe(options);
        _dialerKey = IdentityKey.Generate();
        _listenerKey = IdentityKey.Generate();
        var inbound = NoiseHandshake.SecureInboundAsync(new Duplex(toListener.Reader, toDialer.Writer), _listenerKey, new NoiseOptions(), null, CancellationToken.None);
        var outbound = NoiseHandshake.SecureOutboundAsync(new Duplex(toDialer.Reader, toListener.Writer), _dialerKey, null, new NoiseOptions(), null, CancellationToken.None);
        _dialer = outbound.GetAwaiter().GetResult();
        _listener = inbound.GetAwaiter().GetResult();
        _payload = RandomNumberGenerator.GetBytes(NoiseFrame.MaxPlaintextLength);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _dialer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _listener.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _dialerKey.Dispose();
        _listenerKey.Dispose();
    }

    [Benchmark(OperationsPerInvoke = FramesPerOperation)]
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<long> SendAndReceiveFullFrame()
    {
        long received = 0;
        for (var i = 0; i < FramesPerOperation; i++)
        {
            await _dialer.Output.WriteAsync(_payload);
            long pending = _payload.Length;
            while (pending > 0)
            {
                var result = await _listener.Input.ReadAsync();
                pending -= result.Buffer.Length;
                received += result.Buffer.Length;
                _listener.Input.AdvanceTo(result.Buffer.End);
            }
        }

        return received;
    }

    private sealed record Duplex(PipeReader Input, PipeWriter Output) : IDuplexPipe;
}
