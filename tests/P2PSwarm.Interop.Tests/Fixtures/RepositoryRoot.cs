using System.Runtime.CompilerServices;

namespace P2PSwarm.Interop.Tests.Fixtures;

/// <summary>Finds the checkout the tests run from, so the js peer is found wherever the build output lives.</summary>
internal static class RepositoryRoot
{
    private const string SolutionFile = "P2PSwarm.sln";

    public static string Path { get; } = Find();

    /// <summary>The js-libp2p test peer's folder (<c>tests/interop/js</c>).</summary>
    public static string JsPeerFolder => System.IO.Path.Combine(Path, "tests", "interop", "js");

    /// <summary>
    /// Walks up from the test assembly (the normal layout), then from the working directory, then from this
    /// source file's compile-time path (build output under <c>--artifacts-path</c> lives outside the checkout).
    /// </summary>
    private static string Find([CallerFilePath] string sourceFile = "")
    {
        string?[] starts = [AppContext.BaseDirectory, Environment.CurrentDirectory, System.IO.Path.GetDirectoryName(sourceFile)];
        foreach (var start in starts)
        {
            for (var folder = string.IsNullOrEmpty(start) ? null : new DirectoryInfo(start); folder is not null; folder = folder.Parent)
            {
                if (File.Exists(System.IO.Path.Combine(folder.FullName, SolutionFile)))
                {
                    return folder.FullName;
                }
            }
        }

        throw new InvalidOperationException(
            $"No folder containing {SolutionFile} above {string.Join(", ", starts)}; interop tests must run from a checkout.");
    }
}
