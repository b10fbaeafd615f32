using System.Net;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Tests.Hosting;

/// <summary>Hosts with fresh identities on a loopback address; disposes every host and key it made.</summary>
internal sealed class TestHosts : IAsyncDisposable
{
    public static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    private readonly List<Host> _hosts = [];
    private readonly List<IdentityKey> _keys = [];

    public async Task<Host> StartAsync(string loopback = "127.0.0.1", Func<HostOptions, HostOptions>? configure = null)
    {
        var key = IdentityKey.Generate();
        _keys.Add(key);
        var options = new HostOptions
        {
            Identity = key,
            ListenAddresses = [Multiaddress.FromEndPoint(new IPEndPoint(IPAddress.Parse(loopback), 0))],
        };
        var host = new Host(configure is null ? options : configure(options));
        _hosts.Add(host);
        await host.StartAsync(CancellationToken.None);
        return host;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        foreach (var key in _keys)
        {
            key.Dispose();
        }
    }
}
