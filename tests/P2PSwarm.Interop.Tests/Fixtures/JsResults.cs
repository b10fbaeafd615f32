namespace P2PSwarm.Interop.Tests.Fixtures;

/// <summary>Protocol ids the js peer serves besides identify and ping.</summary>
internal static class JsProtocols
{
    /// <summary>Echoes every byte until the remote closes its write side, then closes.</summary>
    public const string Echo = "/p2pswarm/echo/1.0.0";

    /// <summary>Reads everything, then replies with the byte count as one text line.</summary>
    public const string Sink = "/p2pswarm/sink/1.0.0";

    public const string Identify = "/ipfs/id/1.0.0";
    public const string Ping = "/ipfs/ping/1.0.0";
}

internal sealed record JsStreamInfo(string Protocol, string Direction);

internal sealed record JsConnection(
    string PeerId, string RemoteAddr, string Direction, string? Multiplexer, string? Encryption, string Status, JsStreamInfo[] Streams);

/// <summary>Round-trip times in milliseconds (high-resolution unless the ping service was used).</summary>
internal sealed record JsPingResult(double[] Rtts, int Count, double Min, double Median, double P90, double Max);

/// <summary>What the js peer learned from the remote's identify response; PublicKey is the PublicKey protobuf in hex.</summary>
internal sealed record JsIdentifyResult(
    string PeerId,
    string? PublicKey,
    string[] Protocols,
    string[] ListenAddrs,
    string? ObservedAddr,
    string? AgentVersion,
    string? ProtocolVersion,
    bool HasSignedPeerRecord);

internal sealed record JsEchoResult(bool Ok, long Bytes, double Ms);

internal sealed record JsStreamsResult(bool Ok, int Count, long Bytes, int OpenStreams, string ConnectionId, double Ms);

internal sealed record JsSinkResult(long Bytes, double Ms, double MibPerSecond);
