namespace P2PSwarm.Interop.Tests.HostInterop;

/// <summary>Polls for a condition another process makes true (an identify push, a closed connection).</summary>
internal static class Eventually
{
    /// <summary>Hang guard only: what is awaited normally happens within a second or two.</summary>
    public static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    public static async Task<bool> TrueAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + Generous;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(100);
        }

        return false;
    }
}
