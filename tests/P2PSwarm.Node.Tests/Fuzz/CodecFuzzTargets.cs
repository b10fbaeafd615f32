using System.Text;
using P2PSwarm.Node.Identity;
using P2PSwarm.Node.Multiformats;
using P2PSwarm.Node.Tests.Multiformats;

namespace P2PSwarm.Node.Tests.Fuzz;

/// <summary>
/// Fuzz entry points, one per decoder. Each feeds arbitrary bytes to a decoder; a rejection is the documented
/// <see cref="FormatException"/>, which escapes. Accepted input must re-encode to itself (or to a form that
/// decodes equal), else <see cref="FuzzInvariantException"/>. Any other exception is a bug.
/// </summary>
public static class VarintFuzzTarget
{
    public static void Fuzz(ReadOnlySpan<byte> input)
    {
        var status = Varint.TryRead(input, out var value, out var consumed);
        var split = input.Length == 0 ? 0 : input[0] % input.Length;
        var sequenceStatus = Varint.TryRead(VarintTests.SequenceSplitAt(input.ToArray(), split), out var sequenceValue, out var sequenceConsumed);
        FuzzInvariantException.Check(
            status == sequenceStatus && value == sequenceValue && consumed == sequenceConsumed,
            "span and segmented sequence reads disagree");
        if (status == VarintStatus.Ok)
        {
            FuzzInvariantException.Check(Varint.ToBytes(value).AsSpan().SequenceEqual(input[..consumed]), "varint re-encodes differently");
        }

        for (var maxBytes = 1; maxBytes <= Varint.MaxLength; maxBytes++)
        {
            var capped = Varint.TryRead(input, maxBytes, out var cappedValue, out _);
            FuzzInvariantException.Check(
                capped != VarintStatus.Ok || (status == VarintStatus.Ok && cappedValue == value),
                "a width cap accepted what the uncapped read did not");
        }

        Varint.Read(input, out _);
    }
}

public static class Base58FuzzTarget
{
    public static void Fuzz(ReadOnlySpan<byte> input)
    {
        var text = Encoding.Latin1.GetString(input);
        var bytes = Base58.Decode(text);
        FuzzInvariantException.Check(Base58.Encode(bytes) == text, "base58 decode/encode is not the identity");
    }
}

public static class Base32FuzzTarget
{
    public static void Fuzz(ReadOnlySpan<byte> input)
    {
        var text = Encoding.Latin1.GetString(input);
        var bytes = Base32.Decode(text);
        FuzzInvariantException.Check(Base32.Encode(bytes) == text, "base32 decode/encode is not the identity");
    }
}

public static class MultibaseFuzzTarget
{
    public static void Fuzz(ReadOnlySpan<byte> input) => Multibase.Decode(Encoding.Latin1.GetString(input));
}

public static class MultihashFuzzTarget
{
    public static void Fuzz(ReadOnlySpan<byte> input)
    {
        var multihash = Multihash.Decode(input);
        FuzzInvariantException.Check(multihash.ToBytes().AsSpan().SequenceEqual(input), "multihash re-encodes differently");
    }
}

public static class CidFuzzTarget
{
    public static void Fuzz(ReadOnlySpan<byte> input)
    {
        var cid = Cid.Decode(input);
        FuzzInvariantException.Check(cid.ToBytes().AsSpan().SequenceEqual(input), "CID re-encodes differently");
        FuzzInvariantException.Check(Cid.Parse(cid.ToString()).Equals(cid), "CID text does not parse back");
    }
}

public static class CidTextFuzzTarget
{
    public static void Fuzz(ReadOnlySpan<byte> input)
    {
        var cid = Cid.Parse(Encoding.UTF8.GetString(input));
        FuzzInvariantException.Check(Cid.Parse(cid.ToString()).Equals(cid), "CID text does not parse back");
        FuzzInvariantException.Check(Cid.Decode(cid.ToBytes()).Equals(cid), "CID bytes do not decode back");
    }
}

public static class MultiaddressFuzzTarget
{
    public static void Fuzz(ReadOnlySpan<byte> input)
    {
        var address = Multiaddress.Decode(input);
        FuzzInvariantException.Check(address.ToBytes().AsSpan().SequenceEqual(input), "multiaddr re-encodes differently");
        FuzzInvariantException.Check(Multiaddress.Parse(address.ToString()).Equals(address), "multiaddr text does not parse back");
        _ = address.GetPeerId();
        _ = address.TryGetEndPoint(out _);
        _ = address.WithoutPeerId();
    }
}

public static class MultiaddressTextFuzzTarget
{
    public static void Fuzz(ReadOnlySpan<byte> input)
    {
        var address = Multiaddress.Parse(Encoding.UTF8.GetString(input));
        FuzzInvariantException.Check(Multiaddress.Decode(address.ToBytes()).Equals(address), "multiaddr bytes do not decode back");
        FuzzInvariantException.Check(Multiaddress.Parse(address.ToString()).Equals(address), "multiaddr text does not parse back");
    }
}

public static class PeerIdFuzzTarget
{
    public static void Fuzz(ReadOnlySpan<byte> input)
    {
        var peerId = PeerId.FromBytes(input);
        FuzzInvariantException.Check(peerId.ToBytes().AsSpan().SequenceEqual(input), "peer id re-encodes differently");
        FuzzInvariantException.Check(PeerId.Parse(peerId.ToString()).Equals(peerId), "peer id base58 does not parse back");
        FuzzInvariantException.Check(PeerId.Parse(peerId.ToCidString()).Equals(peerId), "peer id CID does not parse back");
        if (peerId.TryGetPublicKey(out var key))
        {
            FuzzInvariantException.Check(key.ToPeerId().Equals(peerId), "inlined key gives another peer id");
        }
    }
}

public static class PeerIdTextFuzzTarget
{
    public static void Fuzz(ReadOnlySpan<byte> input)
    {
        var peerId = PeerId.Parse(Encoding.UTF8.GetString(input));
        FuzzInvariantException.Check(PeerId.Parse(peerId.ToString()).Equals(peerId), "peer id base58 does not parse back");
    }
}

public static class PublicKeyFuzzTarget
{
    public static void Fuzz(ReadOnlySpan<byte> input)
    {
        var key = PublicKey.FromProtobuf(input);
        FuzzInvariantException.Check(key.ToProtobuf().AsSpan().SequenceEqual(input), "public key re-encodes differently");
        _ = key.Verify("fuzz"u8, new byte[64]);
        _ = key.ToPeerId();
    }
}

public static class PrivateKeyFuzzTarget
{
    public static void Fuzz(ReadOnlySpan<byte> input)
    {
        using var key = IdentityKey.FromPrivateKeyProtobuf(input);
        var canonical = key.ToPrivateKeyProtobuf();
        FuzzInvariantException.Check(
            input.Length != canonical.Length || canonical.AsSpan().SequenceEqual(input),
            "private key re-encodes differently");
        FuzzInvariantException.Check(key.PublicKey.Verify("fuzz"u8, key.Sign("fuzz"u8)), "a loaded key cannot sign");
    }
}
