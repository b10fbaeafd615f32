using P2PSwarm.Inference.Runtime;

namespace P2PSwarm.Inference.Tests.Runtime;

/// <summary>
/// The test assembly's entry point; the test runner never calls it. ORT creates its environment once per process,
/// so which call creates it can only be asked of a process of its own: <c>dotnet P2PSwarm.Inference.Tests.dll
/// ort-first-own-threads</c> asks for the options of a session on its own threads before anything else touches ORT,
/// then prints whether the process's global pool exists.
/// </summary>
internal static class OrtEnvironmentProbe
{
    public const string FirstOwnThreads = "ort-first-own-threads";

    private static int Main(string[] args)
    {
        if (args is not [FirstOwnThreads])
        {
            Console.Error.WriteLine($"usage: P2PSwarm.Inference.Tests {FirstOwnThreads}");
            return 2;
        }

        using (OrtRuntime.CreateSessionOptions(intraOpThreads: 1))
        {
        }

        Console.WriteLine(OrtRuntime.EnsureGlobalThreadPool() ? "global pool" : "no global pool");
        return 0;
    }
}
