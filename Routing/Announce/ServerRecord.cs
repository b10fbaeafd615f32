using Google.Protobuf;
using P2PSwarm.Node.Dht.Records;
using P2PSwarm.Node.Identity;
using P2PSwarm.Routing.Planning;
using P2PSwarm.Routing.Protocol.Proto;

namespace P2PSwarm.Routing.Announce;

/// <summary>A server as its ServerInfo record on the DHT describes it, believed until <paramref name="ExpiresAt"/>.</summary>
public sealed record RecordedServer(SwarmServer Server, DateTimeOffset ExpiresAt);

/// <summary>Reads the record <see cref="BlockAnnouncer"/> publishes at <c>/p2pswarm/server/&lt;peer id&gt;</c>.</summary>
public static class ServerRecord
{
    /// <summary>
    /// The server described by <paramref name="value"/> (the DHT's signed envelope around a protobuf ServerInfo), or
    /// null when the envelope or payload does not decode, the payload names another peer or model, or it has expired.
    /// The envelope's signature is the DHT validator's business; this checks what the envelope carries.
    /// </summary>
    public static RecordedServer? Read(ReadOnlySpan<byte> value, PeerId peer, string modelId, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(peer);
        if (!SignedRecord.TryDecode(value, out SignedRecord? envelope, out _) || !peer.Matches(envelope!.Publisher))
        {
            return null;
        }

        ServerInfo info;
        try
        {
            info = ServerInfo.Parser.ParseFrom(envelope.Payload.Span);
        }
        catch (InvalidProtocolBufferException)
        {
            return null;
        }

        DateTimeOffset expiresAt = envelope.ExpiresAt;
        if (info.ExpiresAtUnixMs > 0 && info.ExpiresAtUnixMs < expiresAt.ToUnixTimeMilliseconds())
        {
            expiresAt = DateTimeOffset.FromUnixTimeMilliseconds(info.ExpiresAtUnixMs);
        }

        if (info.ModelId != modelId || expiresAt <= now || SwarmServer.FromServerInfo(info) is not { } server || server.Peer != peer)
        {
            return null;
        }

        return new RecordedServer(server, expiresAt);
    }
}
