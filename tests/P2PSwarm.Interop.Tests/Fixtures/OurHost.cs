using System.Net;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Interop.Tests.Fixtures;

/// <summary>
/// A p2pswarm <see cref="Host"/> on an ephemeral loopback port with a fresh identity, serving the same echo and
/// sink protocols as the js peer, and keeping its log for failure messages.
/// </summary>
internal sealed class OurHost : IAsyncDisposable
{
    private readonly IdentityKey _key;
    private int _disposed;

    private OurHost(IdentityKey key, Host host, LogTail log)
    {
        _key = key;
        Host = host;
        Log = log;
    }

    public Host Host { get; }

    public LogTail Log { get; }

    public PeerId PeerId => Host.PeerId;

    /// <summary>The first listen address with <c>/p2p/</c>: what the js peer dials.</summary>
    public string Address => Host.FullListenAddresses[0].ToString();

    /// <summary>Starts a host listening on <paramref name="listen"/> (default: an ephemeral port on 127.0.0.1).</summary>
    public static async Task<OurHost> StartAsync(Multiaddress? listen = null, CancellationToken cancellationToken = default)
    {
        var key = IdentityKey.Generate();
        var log = new LogTail();
        var host = new Host(new HostOptions
        {
            Identity = key,
            ListenAddresses = [listen ?? Multiaddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0))],
            LoggerFactory = log,
        });
        host.SetStreamHandler(JsProtocols.Echo, TestProtocols.ServeEchoAsync);
        host.SetStreamHandler(JsProtocols.Sink, TestProtocols.ServeSinkAsync);
        try
        {
            await host.StartAsync(cancellationToken);
        }
        catch
        {
            await host.DisposeAsync();
            key.Dispose();
            throw;
        }

        return new OurHost(key, host, log);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await Host.DisposeAsync();
        _key.Dispose();
    }
}
