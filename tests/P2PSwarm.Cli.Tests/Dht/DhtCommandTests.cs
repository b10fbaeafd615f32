using System.Net;
using System.Text.Json;
using P2PSwarm.Cli.Commands;
using P2PSwarm.Node.Dht;
using P2PSwarm.Node.Dht.Network;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Cli.Tests.Dht;

/// <summary><c>p2pswarm dht ...</c> in-process against a small swarm of real DHT nodes on loopback.</summary>
public sealed class DhtCommandTests : IAsyncLifetime
{
    private readonly List<(IdentityKey Key, Host Host, DhtService Dht)> _swarm = [];
    private readonly string _folder = Directory.CreateTempSubdirectory("p2pswarm-dht-cli").FullName;

    public async Task InitializeAsync()
    {
        for (int i = 0; i < 3; i++)
        {
            var key = IdentityKey.Generate();
            var host = new Host(new HostOptions { Identity = key, ListenAddresses = [Multiaddress.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 0))] });
            await host.StartAsync(CancellationToken.None);
            var dht = new DhtService(host, new DhtServiceOptions { InitialPeers = [.. _swarm.Select(n => n.Host.FullListenAddresses[0])] });
            await dht.StartAsync(CancellationToken.None);
            _swarm.Add((key, host, dht));
        }
    }

    public async Task DisposeAsync()
    {
        foreach ((IdentityKey key, Host host, DhtService dht) in _swarm)
        {
            await dht.DisposeAsync();
            await host.DisposeAsync();
            key.Dispose();
        }

        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task Provide_then_providers_finds_the_cli_node_by_string_key()
    {
        var (code, output, error) = await RunAsync("dht", "provide", "some model block", "--listen", "/ip4/127.0.0.1/tcp/0", "--initial-peers", Peer(0), "--json");
        Assert.True(code == 0, error);
        using var provided = JsonDocument.Parse(output);
        Assert.Equal(DhtCommand.ProviderKey("some model block").ToString(), provided.RootElement.GetProperty("cid").GetString());
        Assert.True(provided.RootElement.GetProperty("accepted").GetInt32() >= 1);
        AssertLookupEnd(provided.RootElement);

        (code, output, error) = await RunAsync("dht", "providers", DhtCommand.ProviderKey("some model block").ToString(), "--initial-peers", Peer(2), "--json");
        Assert.True(code == 0, error);
        using var providers = JsonDocument.Parse(output);
        var found = Assert.Single(providers.RootElement.GetProperty("providers").EnumerateArray());
        Assert.StartsWith("12D3KooW", found.GetProperty("peerId").GetString());
        Assert.Contains(found.GetProperty("addrs").EnumerateArray(), a => a.GetString()!.StartsWith("/ip4/127.0.0.1/tcp/", StringComparison.Ordinal));
        AssertLookupEnd(providers.RootElement);

        (code, output, _) = await RunAsync("dht", "providers", "nobody has this", "--initial-peers", Peer(1));
        Assert.Equal(1, code);
        Assert.Contains("no providers", output);
    }

    [Fact]
    public async Task Put_then_get_round_trips_a_signed_record_under_our_id()
    {
        string identity = Path.Combine(_folder, "identity.key");
        var (code, output, error) = await RunAsync("dht", "put", "/p2pswarm/greeting", "hello swarm", "--identity", identity, "--initial-peers", Peer(0), "--json");
        Assert.True(code == 0, error);
        using var put = JsonDocument.Parse(output);
        string key = put.RootElement.GetProperty("key").GetString()!;
        using (var owner = IdentityFile.Load(identity))
        {
            Assert.Equal($"/p2pswarm/{owner.PeerId}/greeting", key);
        }

        (code, output, error) = await RunAsync("dht", "get", key, "--initial-peers", Peer(1));
        Assert.True(code == 0, error);
        Assert.Equal("hello swarm", output.Trim());

        (code, _, error) = await RunAsync("dht", "put", $"/p2pswarm/{_swarm[0].Host.PeerId}/greeting", "forged", "--identity", identity, "--initial-peers", Peer(0));
        Assert.Equal(1, code);
        Assert.Contains("another peer", error);
    }

    [Fact]
    public async Task Put_signs_for_a_node_running_with_the_same_identity_and_enters_the_dht_through_that_node()
    {
        // `p2pswarm node` runs on the persistent identity and `dht put` signs with it: the put's node connected as that
        // identity too, found its only initial peer to be "this host", and failed with "no DHT server reachable".
        string identity = Path.Combine(_folder, "running.key");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        await using (var file = new FileStream(identity, options))
        {
            await file.WriteAsync(_swarm[0].Key.ToPrivateKeyProtobuf());
        }

        var (code, output, error) = await RunAsync("dht", "put", "/p2pswarm/greeting", "from beside the node", "--identity", identity, "--initial-peers", Peer(0), "--json");
        Assert.True(code == 0, error);
        using var put = JsonDocument.Parse(output);
        string key = put.RootElement.GetProperty("key").GetString()!;
        Assert.Equal($"/p2pswarm/{_swarm[0].Host.PeerId}/greeting", key);

        (code, output, error) = await RunAsync("dht", "get", key, "--initial-peers", Peer(2));
        Assert.True(code == 0, error);
        Assert.Equal("from beside the node", output.Trim());
    }

    [Fact]
    public async Task Peers_lists_the_routing_table_and_no_bootstrap_is_an_error()
    {
        var (code, output, error) = await RunAsync("dht", "peers", "--initial-peers", Peer(0), "--json");
        Assert.True(code == 0, error);
        using var peers = JsonDocument.Parse(output);
        var ids = peers.RootElement.GetProperty("peers").EnumerateArray().Select(p => p.GetProperty("peerId").GetString()).ToArray();
        Assert.Equal(_swarm.Select(n => n.Host.PeerId.ToString()).Order(), ids.Order());

        (code, _, error) = await RunAsync("dht", "get", "/p2pswarm/x/y");
        Assert.Equal(1, code);
        Assert.Contains("--initial-peers", error);
    }

    [Fact]
    public void Keys_parse_as_cids_strings_and_record_names()
    {
        var cid = Cid.FromRawSha256("x"u8);
        Assert.Equal(cid, DhtCommand.ProviderKey(cid.ToString()));
        Assert.Equal(cid, DhtCommand.ProviderKey("x"));
        using var self = IdentityKey.Generate();
        Assert.True(DhtCommand.TryRecordName("/p2pswarm/a/b", self.PeerId, out string? name, out _));
        Assert.Equal("a/b", name);
        Assert.True(DhtCommand.TryRecordName($"/p2pswarm/{self.PeerId}/model", self.PeerId, out name, out _));
        Assert.Equal("model", name);
        Assert.False(DhtCommand.TryRecordName("/ipns/x", self.PeerId, out _, out _));
        Assert.False(DhtCommand.TryRecordName($"/p2pswarm/{self.PeerId}/", self.PeerId, out _, out _));
    }

    private string Peer(int index) => _swarm[index].Host.FullListenAddresses[0].ToString();

    private static async Task<(int Code, string Out, string Error)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await P2PSwarmCommandLine.Build(new CliConsole(output, error)).Parse(args).InvokeAsync();
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>The JSON says why the lookup stopped (a <see cref="KadLookupEnd"/> in camelCase) and how many requests it abandoned.</summary>
    private static void AssertLookupEnd(JsonElement json)
    {
        string end = json.GetProperty("end").GetString()!;
        Assert.True(char.IsLower(end[0]) && Enum.TryParse<KadLookupEnd>(end, ignoreCase: true, out _), end);
        Assert.True(json.GetProperty("abandoned").GetInt32() >= 0);
    }
}
