namespace P2PSwarm.Cli.Tests.Lan;

/// <summary>
/// A fact that needs test-made network namespaces (root and iproute2). Where they cannot be made, xunit reports the
/// test as skipped with the reason, never as passed.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class NetworkNamespaceFactAttribute : FactAttribute
{
    public NetworkNamespaceFactAttribute()
    {
        if (NetworkNamespacePair.Unavailable() is { } reason)
        {
            Skip = reason;
        }
    }
}
