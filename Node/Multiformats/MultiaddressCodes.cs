namespace P2PSwarm.Node.Multiformats;

/// <summary>Multiaddr protocol codes (multiformats <c>protocols.csv</c>) this node understands.</summary>
public static class MultiaddressCodes
{
    public const ulong Ip4 = 4;
    public const ulong Tcp = 6;
    public const ulong Ip6 = 41;
    public const ulong Ip6Zone = 42;
    public const ulong Dns = 53;
    public const ulong Dns4 = 54;
    public const ulong Dns6 = 55;
    public const ulong DnsAddr = 56;
    public const ulong Udp = 273;
    public const ulong WebRtcDirect = 280;
    public const ulong WebRtc = 281;
    public const ulong P2pCircuit = 290;
    public const ulong P2p = 421;
    public const ulong Tls = 448;
    public const ulong Noise = 454;
    public const ulong Quic = 460;
    public const ulong QuicV1 = 461;
    public const ulong WebTransport = 465;
    public const ulong Ws = 477;
    public const ulong Wss = 478;
}
