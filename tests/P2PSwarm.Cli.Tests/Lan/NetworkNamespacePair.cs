using System.Diagnostics;

namespace P2PSwarm.Cli.Tests.Lan;

/// <summary>
/// Two Linux network namespaces joined by a veth pair with 10.x addresses and multicast on, created for one
/// test and deleted on dispose. Nothing is configured outside the two namespaces (the veth pair is created
/// in the root namespace and moved at once). Needs root and iproute2; <see cref="Unavailable"/> says why not.
/// </summary>
internal sealed class NetworkNamespacePair : IDisposable
{
    private static int s_counter;
    private readonly List<string> _created = [];

    private NetworkNamespacePair(string prefix)
    {
        A = prefix + "a";
        B = prefix + "b";
    }

    public string A { get; }

    public string B { get; }

    public string AddressA { get; private set; } = "";

    public string AddressB { get; private set; } = "";

    /// <summary>Why these tests cannot run here, or null when they can.</summary>
    public static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "network namespaces need Linux";
        }

        if (Environment.UserName != "root" && Run("id", "-u").Output.Trim() != "0")
        {
            return "creating network namespaces needs root";
        }

        return File.Exists("/usr/sbin/ip") || File.Exists("/sbin/ip") || File.Exists("/usr/bin/ip") || File.Exists("/bin/ip") ? null : "the 'ip' command (iproute2) is missing";
    }

    public static NetworkNamespacePair Create()
    {
        int n = Interlocked.Increment(ref s_counter);
        string prefix = $"p2ps{Environment.ProcessId % 10000}x{n}";
        var pair = new NetworkNamespacePair(prefix);
        int subnet = 100 + ((Environment.ProcessId + n) % 100);
        pair.AddressA = $"10.{subnet}.{n % 250}.1";
        pair.AddressB = $"10.{subnet}.{n % 250}.2";
        try
        {
            pair.Ip("netns", "add", pair.A);
            pair._created.Add(pair.A);
            pair.Ip("netns", "add", pair.B);
            pair._created.Add(pair.B);
            string vethA = prefix + "va";
            string vethB = prefix + "vb";
            pair.Ip("link", "add", vethA, "type", "veth", "peer", "name", vethB);
            pair.Ip("link", "set", vethA, "netns", pair.A);
            pair.Ip("link", "set", vethB, "netns", pair.B);
            foreach ((string ns, string dev, string address) in new[] { (pair.A, vethA, pair.AddressA), (pair.B, vethB, pair.AddressB) })
            {
                pair.Ip("-n", ns, "addr", "add", address + "/24", "dev", dev);
                pair.Ip("-n", ns, "link", "set", dev, "up", "multicast", "on");
                pair.Ip("-n", ns, "link", "set", "lo", "up");
                pair.Ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", dev);
            }

            return pair;
        }
        catch
        {
            pair.Dispose();
            throw;
        }
    }

    /// <summary>A start info that runs <paramref name="fileName"/> inside namespace <paramref name="ns"/>.</summary>
    public static ProcessStartInfo StartIn(string ns, string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo("ip")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Tests end it with SIGKILL: without the diagnostics server the runtime leaves no pipes behind in /tmp.
        start.Environment["DOTNET_EnableDiagnostics"] = "0";
        foreach (string argument in (string[])["netns", "exec", ns, fileName, .. arguments])
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    public void Dispose()
    {
        // Deleting a namespace destroys its end of the veth pair, and with it the other end.
        foreach (string ns in _created)
        {
            Run("ip", "netns", "del", ns);
        }

        _created.Clear();
    }

    private void Ip(params string[] arguments)
    {
        (int code, string output) = Run("ip", arguments);
        if (code != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', arguments)} failed ({code}): {output}");
        }
    }

    private static (int Code, string Output) Run(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }
}
