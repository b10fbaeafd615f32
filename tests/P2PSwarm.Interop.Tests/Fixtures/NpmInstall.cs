using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace P2PSwarm.Interop.Tests.Fixtures;

/// <summary>
/// Runs <c>npm ci</c> in the js peer's folder when its node_modules is missing or older than the lock file,
/// so <c>dotnet test</c> works on a fresh clone. A file lock keeps parallel test processes from installing twice.
/// </summary>
internal static class NpmInstall
{
    private static readonly SemaphoreSlim s_inProcess = new(1, 1);
    private static bool s_done;

    public static async Task EnsureAsync(string folder, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref s_done))
        {
            return;
        }

        await s_inProcess.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (s_done)
            {
                return;
            }

            await using (await AcquireFileLockAsync(folder, cancellationToken).ConfigureAwait(false))
            {
                if (!IsInstalled(folder))
                {
                    await RunNpmCiAsync(folder, cancellationToken).ConfigureAwait(false);
                }
            }

            s_done = true;
        }
        finally
        {
            s_inProcess.Release();
        }
    }

    /// <summary>npm writes node_modules/.package-lock.json on every install; it must not predate the committed lock.</summary>
    private static bool IsInstalled(string folder)
    {
        var installed = new FileInfo(Path.Combine(folder, "node_modules", ".package-lock.json"));
        var locked = new FileInfo(Path.Combine(folder, "package-lock.json"));
        return installed.Exists && installed.LastWriteTimeUtc >= locked.LastWriteTimeUtc;
    }

    // The lock file is left in place: deleting it on close would let two waiters lock two different files.
    private static async Task<FileStream> AcquireFileLockAsync(string folder, CancellationToken cancellationToken)
    {
        // string.GetHashCode is randomized per process, so the name comes from a real hash of the folder.
        var folderHash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(folder)), 0, 8);
        var lockPath = Path.Combine(Path.GetTempPath(), $"p2pswarm-npm-ci-{folderHash}.lock");
        while (true)
        {
            try
            {
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                await Task.Delay(250, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async Task RunNpmCiAsync(string folder, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(OperatingSystem.IsWindows() ? "npm.cmd" : "npm")
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "ci", "--no-audit", "--no-fund" })
        {
            start.ArgumentList.Add(argument);
        }

        using var npm = Process.Start(start) ?? throw new InvalidOperationException("could not start npm");
        var output = npm.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = npm.StandardError.ReadToEndAsync(cancellationToken);
        await npm.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (npm.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"npm ci in {folder} exited with {npm.ExitCode}:\n{await output.ConfigureAwait(false)}\n{await errors.ConfigureAwait(false)}");
        }
    }
}
