namespace P2PSwarm.Node.Multiformats;

/// <summary>One <c>/name/value</c> part of a <see cref="Multiaddress"/>.</summary>
public readonly struct MultiaddressComponent : IEquatable<MultiaddressComponent>
{
    private readonly ReadOnlyMemory<byte> _value;

    internal MultiaddressComponent(ulong code, ReadOnlyMemory<byte> value)
    {
        Code = code;
        _value = value;
    }

    /// <summary>The protocol code, one of <see cref="MultiaddressCodes"/>.</summary>
    public ulong Code { get; }

    /// <summary>The protocol name as written in text (<c>ip4</c>, <c>p2p</c>, …).</summary>
    public string Name => MultiaddressProtocol.FromCode(Code).Name;

    /// <summary>The binary value (empty for protocols without one).</summary>
    public ReadOnlyMemory<byte> Value => _value;

    /// <summary>The value as written in text (empty for protocols without one).</summary>
    public string ValueText => MultiaddressProtocol.FromCode(Code).FormatValue(_value.Span);

    public bool Equals(MultiaddressComponent other) => Code == other.Code && _value.Span.SequenceEqual(other._value.Span);

    public override bool Equals(object? obj) => obj is MultiaddressComponent other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Code);
        hash.AddBytes(_value.Span);
        return hash.ToHashCode();
    }

    /// <summary><c>/name</c> or <c>/name/value</c>.</summary>
    public override string ToString() =>
        MultiaddressProtocol.FromCode(Code).Kind == MultiaddressValueKind.None ? $"/{Name}" : $"/{Name}/{ValueText}";

    public static bool operator ==(MultiaddressComponent left, MultiaddressComponent right) => left.Equals(right);

    public static bool operator !=(MultiaddressComponent left, MultiaddressComponent right) => !left.Equals(right);
}
