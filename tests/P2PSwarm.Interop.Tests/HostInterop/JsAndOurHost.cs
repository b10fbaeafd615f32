using P2PSwarm.Interop.Tests.Fixtures;

namespace P2PSwarm.Interop.Tests.HostInterop;

/// <summary>One js-libp2p peer and one p2pswarm host, shared by the tests of a class.</summary>
public class JsAndOurHost : IAsyncLifetime
{
    internal JsPeer Js { get; private set; } = null!;

    internal OurHost Ours { get; private set; } = null!;

    /// <summary>How the js peer is started; the identify tests give it the spec-vector key.</summary>
    internal virtual JsPeerOptions JsOptions => new();

    public async Task InitializeAsync()
    {
        Ours = await OurHost.StartAsync();
        Js = await JsPeer.StartAsync(JsOptions);
    }

    public async Task DisposeAsync()
    {
        if (Js is not null)
        {
            await Js.DisposeAsync();
        }

        if (Ours is not null)
        {
            await Ours.DisposeAsync();
        }
    }

    /// <summary>Both sides' recent logs, for the output of a failed test.</summary>
    internal string Logs() =>
        $"--- p2pswarm host log (tail) ---\n{Ours?.Log}\n--- js peer stderr (tail) ---\n{Js?.StderrTail}";
}
