using System.Reflection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Node.Transport;

namespace P2PSwarm.Node.Hosting;

/// <summary>Everything a <see cref="Host"/> is built from: identity, addresses, limits and timeouts.</summary>
public sealed record HostOptions
{
    /// <summary>The Ed25519 identity the host proves in every Noise handshake. The host does not dispose it.</summary>
    public required IdentityKey Identity { get; init; }

    /// <summary>
    /// Addresses to listen on, e.g. <c>/ip4/0.0.0.0/tcp/0</c> or <c>/ip6/::1/tcp/4001</c>. Wildcards are expanded
    /// to concrete interface addresses in <see cref="Host.ListenAddresses"/>. Empty: dial-only host.
    /// </summary>
    public IReadOnlyList<Multiaddress> ListenAddresses { get; init; } = [];

    /// <summary>Sent in identify as <c>agentVersion</c>. Default <c>p2pswarm/&lt;assembly version&gt;</c>.</summary>
    public string AgentVersion { get; init; } = DefaultAgentVersion;

    /// <summary>Sent in identify as <c>protocolVersion</c>; js-libp2p and go-libp2p send <c>ipfs/0.1.0</c>.</summary>
    public string ProtocolVersion { get; init; } = "ipfs/0.1.0";

    /// <summary>The default of <see cref="MaxConnections"/>.</summary>
    public const int DefaultMaxConnections = 256;

    /// <summary>
    /// Connections in any state (upgrading or open, inbound or outbound) the host holds at once. Inbound
    /// connections past it are closed at accept; dials past it fail with <see cref="DialFailure.ConnectionLimit"/>.
    /// </summary>
    public int MaxConnections { get; init; } = DefaultMaxConnections;

    /// <summary>
    /// When more connections than this are open, the host closes idle ones (no open streams, past
    /// <see cref="ConnectionGracePeriod"/>, peer not protected with <see cref="Host.Protect"/>), least recently
    /// active first, until <see cref="ConnectionLowWatermark"/> remain. go-libp2p's default connection manager uses
    /// 192 and 160. Only connections that finished their upgrade count; <see cref="MaxConnections"/> stays the hard cap.
    /// </summary>
    public int ConnectionHighWatermark { get; init; } = DefaultMaxConnections * 3 / 4;

    /// <summary>How many connections trimming leaves open (see <see cref="ConnectionHighWatermark"/>).</summary>
    public int ConnectionLowWatermark { get; init; } = DefaultMaxConnections * 5 / 8;

    /// <summary>
    /// These options with a hard cap of <paramref name="maxConnections"/> and the trimming watermarks at the defaults'
    /// proportions: 3/4 and 5/8 of it.
    /// </summary>
    public HostOptions WithConnectionLimit(int maxConnections) => this with
    {
        MaxConnections = maxConnections,
        ConnectionHighWatermark = maxConnections * 3 / 4,
        ConnectionLowWatermark = maxConnections * 5 / 8,
    };

    /// <summary>How long a new connection is safe from trimming (go-libp2p: 1 minute), so a dial is used before it can be closed.</summary>
    public TimeSpan ConnectionGracePeriod { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How often the host checks the high watermark besides when a connection opens, so connections that were in their
    /// grace period are trimmed once it ends (go-libp2p's silence period: 10 s).
    /// </summary>
    public TimeSpan ConnectionTrimInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Concurrent Yamux streams per connection and direction (js-libp2p allows 1000); the excess is reset.</summary>
    public int MaxStreamsPerConnection { get; init; } = 1000;

    /// <summary>
    /// Deadline for turning a TCP connection into a Yamux session: multistream-select for the security protocol,
    /// the Noise handshake and (unless Noise agreed the muxer early) multistream-select for the muxer.
    /// js-libp2p gives an inbound upgrade 10 s. A peer that connects and never speaks loses its slot here.
    /// </summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Deadline for multistream-select on one stream (js-libp2p: PROTOCOL_NEGOTIATION_TIMEOUT, 10 s).</summary>
    public TimeSpan NegotiationTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Deadline for an identify exchange, open to FIN (js-libp2p: 5 s).</summary>
    public TimeSpan IdentifyTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Deadline for the TCP connect of a dial (js-libp2p: 10 s per dial).</summary>
    public TimeSpan DialTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long <see cref="Host.StopAsync"/> waits for running stream handlers after sending GoAway.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long closing a connection waits, after Yamux has flushed its last frames, for the socket to send them and
    /// for the peer to close its side. Closing the socket at once would reset it and could destroy bytes in flight.
    /// </summary>
    public TimeSpan CloseGracePeriod { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Sockets the host may open; shared with every host in the process unless a test gives it its own.</summary>
    internal DescriptorBudget DescriptorBudget { get; init; } = DescriptorBudget.Process;

    /// <summary>Where the host and its connections log. Default: nowhere.</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary><c>p2pswarm/</c> and the informational version of this assembly.</summary>
    public static string DefaultAgentVersion { get; } =
        "p2pswarm/" + (typeof(HostOptions).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0");

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(Identity);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConnections, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxStreamsPerConnection, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(ConnectionLowWatermark);
        ArgumentOutOfRangeException.ThrowIfLessThan(ConnectionHighWatermark, ConnectionLowWatermark);
        ArgumentOutOfRangeException.ThrowIfLessThan(ConnectionGracePeriod, TimeSpan.Zero);
        foreach (var timeout in new[] { HandshakeTimeout, NegotiationTimeout, IdentifyTimeout, DialTimeout, ShutdownTimeout, CloseGracePeriod, ConnectionTrimInterval })
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        }
    }
}
