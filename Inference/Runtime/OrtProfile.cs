using System.Text.Json;

namespace P2PSwarm.Inference.Runtime;

/// <summary>Time one op type took per run: the sum over its nodes of ORT's kernel time.</summary>
/// <param name="OpType">The node's operator, e.g. <c>MatMulNBits</c> or <c>GroupQueryAttention</c>.</param>
/// <param name="Nodes">Distinct nodes of this op type seen in the summarized runs.</param>
/// <param name="MillisecondsPerRun">Kernel time of all those nodes, averaged over the runs.</param>
public sealed record OpTypeTime(string OpType, int Nodes, double MillisecondsPerRun);

/// <summary>Where the time of a run goes, per op type, from an ORT profile.</summary>
/// <param name="Runs">Runs summarized (the last ones of the profile).</param>
/// <param name="RunMilliseconds">Mean wall time of one run as ORT measured it (<c>model_run</c>).</param>
/// <param name="OpTypes">Kernel time per op type, largest first. The rest of a run is ORT's own overhead between kernels.</param>
public sealed record OrtProfileSummary(int Runs, double RunMilliseconds, IReadOnlyList<OpTypeTime> OpTypes)
{
    public double KernelMillisecondsPerRun => OpTypes.Sum(o => o.MillisecondsPerRun);
}

/// <summary>
/// Reads the Chrome-trace JSON that ORT writes with <c>SessionOptions.EnableProfiling</c>: one <c>model_run</c>
/// event per run (category Session) and one <c>*_kernel_time</c> event per node execution (category Node, with
/// <c>args.op_name</c>), all with <c>ts</c>/<c>dur</c> in microseconds.
/// </summary>
public static class OrtProfile
{
    /// <summary>Summarizes the last <paramref name="lastRuns"/> runs of the profile at <paramref name="path"/> (e.g. decode steps after a prefill).</summary>
    public static OrtProfileSummary Summarize(string path, int lastRuns)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(lastRuns, 1);
        using var stream = File.OpenRead(path);
        using var document = JsonDocument.Parse(stream);
        var runs = new List<(long Start, long End)>();
        var kernels = new List<(long Start, long Duration, string Node, string OpType)>();
        foreach (var e in document.RootElement.EnumerateArray())
        {
            var category = e.TryGetProperty("cat", out var cat) ? cat.GetString() : null;
            var name = e.TryGetProperty("name", out var n) ? n.GetString() ?? "" : "";
            if (!e.TryGetProperty("ts", out var ts) || !e.TryGetProperty("dur", out var dur))
            {
                continue;
            }
            if (category == "Session" && name == "model_run")
            {
                runs.Add((ts.GetInt64(), ts.GetInt64() + dur.GetInt64()));
            }
            else if (category == "Node" && name.EndsWith("_kernel_time", StringComparison.Ordinal)
                && e.TryGetProperty("args", out var args) && args.TryGetProperty("op_name", out var op))
            {
                kernels.Add((ts.GetInt64(), dur.GetInt64(), name, op.GetString() ?? "?"));
            }
        }
        if (runs.Count < lastRuns)
        {
            throw new InvalidDataException($"The profile {path} holds {runs.Count} runs, fewer than the {lastRuns} asked for.");
        }
        runs.Sort();
        var window = runs.Skip(runs.Count - lastRuns).ToList();
        var perOp = new Dictionary<string, (HashSet<string> Nodes, long Microseconds)>();
        foreach (var kernel in kernels.Where(k => window.Any(r => k.Start >= r.Start && k.Start < r.End)))
        {
            if (!perOp.TryGetValue(kernel.OpType, out var entry))
            {
                entry = ([], 0);
            }
            entry.Nodes.Add(kernel.Node);
            perOp[kernel.OpType] = (entry.Nodes, entry.Microseconds + kernel.Duration);
        }
        var opTypes = perOp
            .Select(p => new OpTypeTime(p.Key, p.Value.Nodes.Count, p.Value.Microseconds / 1000.0 / lastRuns))
            .OrderByDescending(o => o.MillisecondsPerRun)
            .ToList();
        var runMilliseconds = window.Average(r => (r.End - r.Start) / 1000.0);
        return new OrtProfileSummary(lastRuns, runMilliseconds, opTypes);
    }
}
