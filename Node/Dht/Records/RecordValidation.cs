namespace P2PSwarm.Node.Dht.Records;

/// <summary>Whether a record may be stored or returned, and why not.</summary>
public readonly record struct RecordValidationResult(bool IsValid, string? Reason)
{
    public static RecordValidationResult Valid { get; } = new(true, null);

    public static RecordValidationResult Reject(string reason) => new(false, reason);
}

/// <summary>
/// Validates and ranks the records of one key namespace, as js-libp2p's <c>validators[ns]</c> and
/// <c>selectors[ns]</c> do.
/// </summary>
public interface IRecordValidator
{
    RecordValidationResult Validate(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, DateTimeOffset now);

    /// <summary>Index of the best of <paramref name="values"/>, all of which passed <see cref="Validate"/>.</summary>
    int Select(ReadOnlySpan<byte> key, IReadOnlyList<ReadOnlyMemory<byte>> values);
}
