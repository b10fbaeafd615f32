using System.Text;

namespace P2PSwarm.Node.Dht.Records;

/// <summary>
/// Routes a record key <c>/&lt;namespace&gt;/&lt;rest&gt;</c> to its namespace's validator. As in js-libp2p, a key
/// without a namespace, or whose namespace has no validator, is rejected: we never store what we cannot check.
/// </summary>
public sealed class RecordValidatorRegistry
{
    private readonly Dictionary<string, IRecordValidator> _validators = new(StringComparer.Ordinal);

    /// <summary>A registry with the p2pswarm namespace registered.</summary>
    public static RecordValidatorRegistry CreateDefault()
    {
        var registry = new RecordValidatorRegistry();
        registry.Register(P2PSwarmRecordValidator.Namespace, new P2PSwarmRecordValidator());
        return registry;
    }

    /// <summary>Registers <paramref name="validator"/> for keys <c>/<paramref name="ns"/>/...</c> (bare name, no slashes).</summary>
    public void Register(string ns, IRecordValidator validator)
    {
        ArgumentException.ThrowIfNullOrEmpty(ns);
        ArgumentNullException.ThrowIfNull(validator);
        if (ns.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException("A namespace is a bare name without slashes.", nameof(ns));
        }

        _validators[ns] = validator;
    }

    public RecordValidationResult Validate(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, DateTimeOffset now) =>
        TryFind(key, out IRecordValidator? validator, out string? reason)
            ? validator.Validate(key, value, now)
            : RecordValidationResult.Reject(reason);

    /// <summary>Index of the best value; values must all have passed <see cref="Validate"/>.</summary>
    public int Select(ReadOnlySpan<byte> key, IReadOnlyList<ReadOnlyMemory<byte>> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            throw new ArgumentException("No values to select from.", nameof(values));
        }

        if (!TryFind(key, out IRecordValidator? validator, out string? reason))
        {
            throw new ArgumentException(reason, nameof(key));
        }

        int index = validator.Select(key, values);
        return index >= 0 && index < values.Count ? index : 0;
    }

    /// <summary>The namespace of <c>/ns/rest</c>, or null if the key does not have that shape.</summary>
    public static string? NamespaceOf(ReadOnlySpan<byte> key)
    {
        if (key.Length < 4 || key[0] != (byte)'/')
        {
            return null;
        }

        int end = key[1..].IndexOf((byte)'/');
        if (end <= 0 || end + 2 >= key.Length)
        {
            return null;
        }

        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(key.Slice(1, end));
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    private bool TryFind(
        ReadOnlySpan<byte> key,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IRecordValidator? validator,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? reason)
    {
        string? ns = NamespaceOf(key);
        if (ns is null)
        {
            validator = null;
            reason = "record key is not of the form /<namespace>/<rest>";
            return false;
        }

        if (!_validators.TryGetValue(ns, out validator))
        {
            reason = $"no validator for namespace '{ns}'";
            return false;
        }

        reason = null;
        return true;
    }
}
