using System.CommandLine;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using P2PSwarm.Node.Hosting;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Cli.Networking;

/// <summary>Options shared by the commands that run a libp2p host: identity, listen addresses, log level.</summary>
internal static class NodeOptions
{
    public static Option<string?> Identity(string whenMissing) => new("--identity")
    {
        Description = $"Identity key file (libp2p PrivateKey protobuf), created if missing. {whenMissing}",
    };

    public static Option<string[]> Listen(string defaultAddress) => new("--listen")
    {
        Description = $"Multiaddr to listen on, e.g. /ip4/0.0.0.0/tcp/4001 or /ip6/::1/tcp/0; repeat for several. Default {defaultAddress}.",
        AllowMultipleArgumentsPerToken = true,
        DefaultValueFactory = _ => [defaultAddress],
    };

    public static Option<int> MaxConnections() => new("--max-connections")
    {
        Description = $"Connections held at once; past it inbound ones are closed at accept. Idle connections are trimmed above 3/4 of it, down to 5/8 (go-libp2p's 192 and 160 for the default {HostOptions.DefaultMaxConnections}).",
        DefaultValueFactory = _ => HostOptions.DefaultMaxConnections,
    };

    /// <summary>The longest duration option (11.6 days): timers take at most 2^31 - 1 ms.</summary>
    public const int MaxDurationSeconds = 1_000_000;

    /// <summary>Whether <paramref name="seconds"/> is a usable duration option: positive, finite, at most <see cref="MaxDurationSeconds"/>.</summary>
    public static bool IsDuration(double seconds) => seconds is > 0 and <= MaxDurationSeconds;

    public static Option<LogLevel> LogLevel() => new("--log-level")
    {
        Description = "Log to stderr from this level on: Trace, Debug, Information, Warning, Error, None.",
        DefaultValueFactory = _ => Microsoft.Extensions.Logging.LogLevel.Warning,
    };

    /// <summary>
    /// The key at <paramref name="path"/> (created if missing); a fresh in-memory key when null. A key file other users
    /// can read is loaded with a warning on stderr.
    /// </summary>
    public static IdentityKey LoadIdentity(CliConsole console, string? path) =>
        path is null ? IdentityKey.Generate() : LoadIdentity(console, path, out _);

    /// <summary>The key at <paramref name="path"/> (created if missing), and whether it is kept in a regular file rather than read from a pipe.</summary>
    public static IdentityKey LoadIdentity(CliConsole console, string path, out bool isRegularFile) =>
        IdentityFile.LoadOrCreate(path, warning => console.Error.WriteLine($"warning: {warning}"), out isRegularFile);

    /// <summary>
    /// Claims <paramref name="peer"/> for this node on this machine (<see cref="PeerIdClaim"/>). False, after one error line
    /// ending in <paramref name="hint"/>, when another process runs as it. A claim that cannot be made at all (no Unix
    /// sockets, no temporary folder) is a warning: the node runs unchecked rather than not at all.
    /// </summary>
    public static bool TryClaimPeerId(CliConsole console, PeerId peer, string hint, out PeerIdClaim? claim)
    {
        try
        {
            claim = PeerIdClaim.TryClaim(peer);
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            console.Error.WriteLine($"warning: cannot check that no other node on this machine runs as {peer}: {e.Message}");
            claim = null;
            return true;
        }

        if (claim is null)
        {
            console.Error.WriteLine($"error: another p2pswarm node on this machine runs as {peer} {hint}");
            return false;
        }

        return true;
    }

    /// <summary>
    /// What <see cref="LoadIdentity(CliConsole, string?)"/> throws for a key file the user can fix (damaged, unreadable, a folder, no user
    /// data folder to put one in): commands print its message as one error line.
    /// </summary>
    public static bool IsIdentityFailure(Exception exception) =>
        exception is IOException or InvalidDataException or UnauthorizedAccessException or InvalidOperationException;

    /// <summary>
    /// Prints the reason of the first failed check as one error line; true if one failed. Commands check their
    /// arguments with it before they open a model or a socket.
    /// </summary>
    public static bool ReportFirstFailure(CliConsole console, params ReadOnlySpan<(bool Failed, string Reason)> checks)
    {
        foreach (var (failed, reason) in checks)
        {
            if (failed)
            {
                console.Error.WriteLine($"error: {reason}");
                return true;
            }
        }

        return false;
    }

    public static ILoggerFactory CreateLoggerFactory(CliConsole console, LogLevel minimum) =>
        LoggerFactory.Create(builder => builder.SetMinimumLevel(minimum).AddProvider(new TextWriterLoggerProvider(console.Error, minimum)));

    /// <summary>Parses every address or reports the first bad one.</summary>
    public static bool TryParseAddresses(IEnumerable<string> texts, out List<Multiaddress> addresses, out string? error)
    {
        addresses = [];
        foreach (var text in texts)
        {
            if (!Multiaddress.TryParse(text, out var address))
            {
                error = $"'{text}' is not a valid multiaddr";
                return false;
            }

            addresses.Add(address);
        }

        error = null;
        return true;
    }
}
