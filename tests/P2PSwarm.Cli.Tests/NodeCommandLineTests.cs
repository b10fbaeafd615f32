using System.Text.Json;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Cli.Tests;

/// <summary>Literal command lines parsed and run in-process against string writers.</summary>
public sealed class NodeCommandLineTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("p2pswarm-cli-").FullName;

    [Fact]
    public async Task Id_prints_the_same_peer_id_for_the_same_identity_file()
    {
        var identity = Path.Combine(_folder, "id.key");
        var (code, first, _) = await RunAsync("id", "--identity", identity);
        var (_, second, _) = await RunAsync("id", "--identity", identity);
        Assert.Equal(0, code);
        Assert.StartsWith("12D3KooW", first.Trim());
        Assert.Equal(first, second);
    }

    [Fact]
    public async Task Id_json_lists_full_addresses_for_a_wildcard_listen_address()
    {
        var identity = Path.Combine(_folder, "id.key");
        var (code, output, _) = await RunAsync("id", "--identity", identity, "--json", "--listen", "/ip4/0.0.0.0/tcp/4001");
        Assert.Equal(0, code);
        using var json = JsonDocument.Parse(output);
        var peerId = json.RootElement.GetProperty("peerId").GetString();
        var addresses = json.RootElement.GetProperty("addresses").EnumerateArray().Select(a => a.GetString()).ToList();
        Assert.Contains($"/ip4/127.0.0.1/tcp/4001/p2p/{peerId}", addresses);
        Assert.DoesNotContain(addresses, a => a!.Contains("0.0.0.0", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("ping", "not-a-multiaddr")]
    [InlineData("node", "--listen", "/ip4/1.2.3/tcp/1", "--ephemeral")]
    [InlineData("id", "--listen", "/dns4/example.com/tcp/1")]
    public async Task Bad_addresses_exit_non_zero_with_one_line(params string[] args)
    {
        var (code, _, error) = await RunAsync(args.Append("--identity").Append(Path.Combine(_folder, "k")).ToArray());
        Assert.NotEqual(0, code);
        Assert.True(error.StartsWith("error: ", StringComparison.Ordinal), error);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Theory]
    [InlineData("error: --max-connections must be at least 1.", "node", "--ephemeral", "--max-connections", "0")]
    [InlineData("error: --max-connections must be at least 1.", "serve", "--max-connections", "0")]
    [InlineData("error: --max-sessions must be at least 1.", "serve", "--max-sessions", "0")]
    [InlineData("error: --cache-tokens must be at least 1.", "serve", "--cache-tokens", "-5")]
    [InlineData("error: --idle-timeout must be seconds in (0, 1000000].", "serve", "--idle-timeout", "-3")]
    [InlineData("error: --idle-timeout must be seconds in (0, 1000000].", "serve", "--idle-timeout", "1e300")]
    [InlineData("error: --rebalance-interval must be seconds in (0, 1000000].", "serve", "--rebalance-interval", "NaN")]
    [InlineData("error: --balance-quality must not be negative.", "serve", "--balance-quality", "-1")]
    [InlineData("error: --step-timeout must be seconds in (0, 1000000].", "generate", "--prompt", "hi", "--step-timeout", "0")]
    [InlineData("error: max tokens must be >= 0, got -1", "demo", "--max-tokens", "-1")]
    [InlineData("error: --count must be at least 1.", "ping", "/ip4/127.0.0.1/tcp/1", "--count", "0")]
    [InlineData("error: --ephemeral uses a fresh identity and keeps no state; it cannot be given with --state.", "node", "--ephemeral", "--state", "x.db")]
    [InlineData("error: --ephemeral uses a fresh identity and keeps no state; it cannot be given with --identity.", "node", "--ephemeral", "--identity", "x.key")]
    [InlineData("error: --steps must be at least 1.", "bench", "span", "--steps", "0")]
    [InlineData("error: --past must not be negative.", "bench", "span", "--past", "-1")]
    [InlineData("error: --prefill must be at least 1.", "bench", "span", "--prefill", "0")]
    [InlineData("error: --pairs must be 1 to 64.", "bench", "matmul", "--pairs", "0")]
    [InlineData("error: --rows must be 1 to 2048.", "bench", "matmul", "--rows", "0")]
    [InlineData("error: --rows must be 1 to 2048.", "bench", "matmul", "--rows", "100000")]
    [InlineData("error: --block-size must be a power of two from 16 to 256.", "bench", "matmul", "--block-size", "48")]
    [InlineData("error: --accuracy-level must be 0 to 4 (ONNX Runtime's MatMulNBits levels).", "bench", "matmul", "--accuracy-level", "9")]
    [InlineData("error: --interval must be seconds in [0, 1000000].", "ping", "/ip4/127.0.0.1/tcp/1", "--interval", "-1")]
    [InlineData("error: --interval must be seconds in [0, 1000000].", "ping", "/ip4/127.0.0.1/tcp/1", "--interval", "1e300")]
    [InlineData("error: --interval must be seconds in [0, 1000000].", "ping", "/ip4/127.0.0.1/tcp/1", "--interval", "NaN")]
    public async Task Out_of_range_limits_and_durations_exit_non_zero_before_doing_anything(string expected, params string[] args)
    {
        // The model does not exist (and demo would create one and start servers): the argument is refused first.
        string[] model = args[0] is "serve" or "generate" || args is ["bench", "span", ..] ? ["--model", Path.Combine(_folder, "no-such-model")] : [];
        string[] blocks = args[0] == "serve" ? ["--blocks", "0-1"] : [];
        var (code, output, error) = await RunAsync([.. args, .. model, .. blocks]);
        Assert.NotEqual(0, code);
        Assert.Equal(expected, error.Trim());
        Assert.Equal("", output);
    }

    [Fact]
    public async Task Serve_refuses_more_threads_than_the_runtime_can_start_and_a_public_name_over_64_bytes()
    {
        // --threads 100000 aborted the process natively ("terminate called after throwing an instance of
        // 'PAL_SEHException'") once ONNX Runtime tried to start them; a 5000-byte --public-name went into the DHT record
        // although the help says at most 64 bytes.
        string[] serve = ["serve", "--model", Path.Combine(_folder, "no-such-model"), "--blocks", "0-1"];
        var tooMany = (Environment.ProcessorCount * 4) + 1;

        var (code, output, error) = await RunAsync([.. serve, "--threads", tooMany.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.Equal(1, code);
        Assert.Equal($"error: --threads must be at most {tooMany - 1} (4 per core; this machine has {Environment.ProcessorCount}).", error.Trim());
        Assert.Equal("", output);

        (code, _, error) = await RunAsync([.. serve, "--public-name", new string('\u00e9', 33)]);
        Assert.Equal(1, code);
        Assert.Equal("error: --public-name must be at most 64 UTF-8 bytes (it is 66).", error.Trim());
    }

    [Fact]
    public async Task Swarm_status_says_when_it_has_nobody_to_ask_instead_of_calling_every_block_missing()
    {
        // Before, both printed "block N: MISSING" for every block and "fully covered: no" (exit 3).
        await RunAsync("model", "init", Path.Combine(_folder, "tiny"));
        string[] status = ["swarm", "status", "--model", Path.Combine(_folder, "tiny")];

        var (code, output, error) = await RunAsync(status);
        Assert.Equal(1, code);
        Assert.Equal("error: swarm status needs --initial-peers (multiaddrs with /p2p/ of servers or DHT nodes) or --lan to find the swarm.", error.Trim());
        Assert.Equal("", output);

        using var closed = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        int port = ((System.Net.IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop(); // Nothing listens there now: the dial is refused.
        using var stranger = IdentityKey.Generate();
        (code, output, error) = await RunAsync([.. status, "--initial-peers", $"/ip4/127.0.0.1/tcp/{port}/p2p/{stranger.PeerId}"]);
        Assert.Equal(1, code);
        Assert.EndsWith("error: no DHT server reachable (none of the initial peers or LAN peers serves /p2pswarm/kad/1.0.0), so the swarm could not be looked up.", error.Trim(), StringComparison.Ordinal);
        Assert.DoesNotContain("MISSING", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("id")]
    [InlineData("node", "--listen", "/ip4/127.0.0.1/tcp/0")]
    [InlineData("ping", "/ip4/127.0.0.1/tcp/1")]
    public async Task A_damaged_identity_file_is_one_error_line(params string[] args)
    {
        // ping printed an unhandled InvalidDataException with its stack trace before.
        var key = Path.Combine(_folder, "damaged.key");
        await File.WriteAllTextAsync(key, "garbage");

        var (code, output, error) = await RunAsync([.. args, "--identity", key]);

        Assert.NotEqual(0, code);
        Assert.Equal($"error: Identity file '{key}' is not a libp2p Ed25519 private key: PrivateKey protobuf must start with field 1 (Type), found tag 0x67.", error.Trim());
        Assert.Equal("", output);
    }

    [Fact]
    public async Task Node_refuses_a_damaged_database_beside_its_identity_in_one_line_and_keeps_the_file()
    {
        var key = Path.Combine(_folder, "identity.key");
        var database = Path.Combine(_folder, "node.db");
        await RunAsync("id", "--identity", key);
        byte[] garbage = [.. Enumerable.Range(0, 8192).Select(i => (byte)(i * 31))];
        await File.WriteAllBytesAsync(database, garbage);

        var (code, _, error) = await RunAsync("node", "--identity", key, "--listen", "/ip4/127.0.0.1/tcp/0");

        Assert.Equal(1, code);
        Assert.Equal(
            $"error: The node database '{database}' is not a SQLite database or is damaged (SQLite Error 26: 'file is not a database'). It was left as it is; move it aside to start with an empty one. (node keeps its DHT state beside the identity file; --state puts it elsewhere, --ephemeral keeps none)",
            error.Trim());
        Assert.Equal(garbage, await File.ReadAllBytesAsync(database));
    }

    [Fact]
    public async Task Id_warns_about_a_key_file_other_users_can_read()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var key = Path.Combine(_folder, "shared.key");
        var (_, created, _) = await RunAsync("id", "--identity", key);
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);

        var (code, output, error) = await RunAsync("id", "--identity", key);

        Assert.Equal(0, code);
        Assert.Equal(created, output);
        Assert.Equal($"warning: identity file '{key}' can be read or written by other users (mode 640); its private key is this node's identity: chmod 600 '{key}'", error.Trim());
    }

    [Fact]
    public void Help_documents_which_commands_use_a_persistent_identity()
    {
        var root = P2PSwarmCommandLine.Build(new CliConsole(TextWriter.Null, TextWriter.Null));
        string IdentityHelp(string command) => root.Subcommands.Single(c => c.Name == command).Options.Single(o => o.Name == "--identity").Description!;
        Assert.Contains("persistent", IdentityHelp("node"));
        Assert.Contains("fresh in-memory", IdentityHelp("ping"));
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static async Task<(int Code, string Out, string Error)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await P2PSwarmCommandLine.Build(new CliConsole(output, error)).Parse(args)
            .InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }
}
