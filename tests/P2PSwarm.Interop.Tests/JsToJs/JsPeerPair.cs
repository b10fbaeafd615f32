using P2PSwarm.Interop.Tests.Fixtures;

namespace P2PSwarm.Interop.Tests.JsToJs;

/// <summary>Two js peers shared by the tests of one class: starting node costs about a second each.</summary>
public sealed class JsPeerPair : IAsyncLifetime
{
    internal JsPeer A { get; private set; } = null!;

    internal JsPeer B { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        A = await JsPeer.StartAsync();
        B = await JsPeer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (A is not null)
        {
            await A.DisposeAsync();
        }

        if (B is not null)
        {
            await B.DisposeAsync();
        }
    }
}
