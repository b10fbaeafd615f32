using P2PSwarm.Node.Multiformats;

namespace P2PSwarm.Node.Storage;

/// <summary>A list of binary multiaddrs in one BLOB: <c>uvarint(len) || bytes</c> per address.</summary>
internal static class AddressListEncoding
{
    public static byte[] Encode(IReadOnlyList<ReadOnlyMemory<byte>> addresses)
    {
        int length = addresses.Sum(a => Varint.GetLength((ulong)a.Length) + a.Length);
        byte[] blob = new byte[length];
        int p = 0;
        foreach (ReadOnlyMemory<byte> address in addresses)
        {
            p += Varint.Write(blob.AsSpan(p), (ulong)address.Length);
            address.Span.CopyTo(blob.AsSpan(p));
            p += address.Length;
        }

        return blob;
    }

    public static IReadOnlyList<ReadOnlyMemory<byte>> Decode(ReadOnlySpan<byte> blob)
    {
        var addresses = new List<ReadOnlyMemory<byte>>();
        while (!blob.IsEmpty)
        {
            if (Varint.TryRead(blob, out ulong length, out int consumed) != VarintStatus.Ok || length > (ulong)(blob.Length - consumed))
            {
                throw new FormatException("Stored address list is corrupt.");
            }

            addresses.Add(blob.Slice(consumed, (int)length).ToArray());
            blob = blob[(consumed + (int)length)..];
        }

        return addresses;
    }
}
