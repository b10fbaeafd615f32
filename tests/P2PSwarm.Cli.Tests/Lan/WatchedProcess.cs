using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;

namespace P2PSwarm.Cli.Tests.Lan;

/// <summary>A child process whose stdout and stderr lines are collected; killed (whole tree) on dispose.</summary>
internal sealed class WatchedProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();

    public WatchedProcess(ProcessStartInfo start)
    {
        _process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {start.FileName}");
        _process.OutputDataReceived += (_, e) => Add("out", e.Data);
        _process.ErrorDataReceived += (_, e) => Add("err", e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public StreamWriter Input => _process.StandardInput;

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Waits for the process to exit; false after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public IEnumerable<string> Lines => _lines;

    /// <summary>Waits until a line contains <paramref name="text"/>; false after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_lines.Any(l => l.Contains(text, StringComparison.Ordinal)))
            {
                return true;
            }

            if (_process.HasExited)
            {
                return _lines.Any(l => l.Contains(text, StringComparison.Ordinal));
            }

            await Task.Delay(100);
        }

        return false;
    }

    public string Tail(int lines = 60)
    {
        var all = _lines.ToArray();
        var text = new StringBuilder();
        foreach (var line in all.Skip(Math.Max(0, all.Length - lines)))
        {
            text.AppendLine(line);
        }

        return text.ToString();
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
    }

    private void Add(string stream, string? line)
    {
        if (line is not null && _lines.Count < 20_000)
        {
            _lines.Enqueue($"[{stream}] {line}");
        }
    }
}
