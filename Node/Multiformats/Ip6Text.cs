using System.Buffers.Binary;
using System.Text;

namespace P2PSwarm.Node.Multiformats;

/// <summary>
/// RFC 5952 text for IPv6: lower-case hex without leading zeros, the longest run (first on a tie) of two or
/// more zero groups as <c>::</c>, dotted quad only for IPv4-mapped addresses. .NET's own formatting also
/// uses dotted quads for the deprecated IPv4-compatible range (<c>::1.2.3.4</c>), which RFC 5952 does not.
/// </summary>
internal static class Ip6Text
{
    public static string Format(ReadOnlySpan<byte> address)
    {
        Span<ushort> groups = stackalloc ushort[8];
        for (var index = 0; index < 8; index++)
        {
            groups[index] = BinaryPrimitives.ReadUInt16BigEndian(address[(2 * index)..]);
        }

        var isIpv4Mapped = groups[..5].IndexOfAnyExcept((ushort)0) < 0 && groups[5] == 0xFFFF;
        var hexGroups = isIpv4Mapped ? 6 : 8;
        var (runStart, runLength) = LongestZeroRun(groups[..hexGroups]);

        var text = new StringBuilder(41);
        for (var index = 0; index < hexGroups; index++)
        {
            if (index == runStart)
            {
                text.Append("::");
                index += runLength - 1;
                continue;
            }

            if (index > 0 && index != runStart + runLength)
            {
                text.Append(':');
            }

            text.Append(groups[index].ToString("x", System.Globalization.CultureInfo.InvariantCulture));
        }

        if (isIpv4Mapped)
        {
            if (runStart + runLength != hexGroups)
            {
                text.Append(':');
            }

            text.Append($"{address[12]}.{address[13]}.{address[14]}.{address[15]}");
        }

        return text.ToString();
    }

    private static (int Start, int Length) LongestZeroRun(ReadOnlySpan<ushort> groups)
    {
        int bestStart = -1, bestLength = 0;
        for (var index = 0; index < groups.Length;)
        {
            if (groups[index] != 0)
            {
                index++;
                continue;
            }

            var start = index;
            while (index < groups.Length && groups[index] == 0)
            {
                index++;
            }

            if (index - start > bestLength)
            {
                (bestStart, bestLength) = (start, index - start);
            }
        }

        return bestLength >= 2 ? (bestStart, bestLength) : (-1, 0);
    }
}
