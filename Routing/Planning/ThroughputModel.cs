namespace P2PSwarm.Routing.Planning;

/// <summary>One server of a what-if pipeline for <c>p2pswarm plan</c>.</summary>
/// <param name="Blocks">Blocks it runs.</param>
/// <param name="ComputeTokensPerSecond">Decode throughput of one block on it, tokens/s.</param>
/// <param name="RttFromPreviousMs">RTT from the previous hop (from the client for the first hop).</param>
/// <param name="BandwidthBitsPerSecond">The slower direction of its link.</param>
public sealed record HopProfile(int Blocks, double ComputeTokensPerSecond, double RttFromPreviousMs, double BandwidthBitsPerSecond);

/// <summary>Where one decode step's time goes, and the resulting tokens/s.</summary>
public sealed record PipelineEstimate(double ComputeMs, double LatencyMs, double TransferMs)
{
    public double MsPerToken => ComputeMs + LatencyMs + TransferMs;

    public double TokensPerSecond => 1000 / MsPerToken;
}

/// <summary>
/// Analytic decode speed of a pipeline: each hop adds its compute (blocks / throughput), the propagation delay
/// of its link (half an RTT with push, a full client RTT without) and the time to move one hidden state of
/// fp32 x hidden size over its bandwidth. Batch 1, no queueing: a lower bound on latency, not a simulation.
/// </summary>
public static class ThroughputModel
{
    /// <param name="hiddenSize">Model hidden size; one token's hidden state is hiddenSize x 4 bytes.</param>
    /// <param name="hops">The pipeline in order.</param>
    /// <param name="lastToClientRttMs">RTT from the last hop back to the client.</param>
    /// <param name="push">Server-to-server push; without it, the client sends to and receives from every hop.</param>
    /// <param name="clientRttsMs">Client RTT per hop, needed without push (defaults to each hop's RttFromPreviousMs).</param>
    public static PipelineEstimate Estimate(int hiddenSize, IReadOnlyList<HopProfile> hops, double lastToClientRttMs, bool push, IReadOnlyList<double>? clientRttsMs = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hiddenSize);
        ArgumentNullException.ThrowIfNull(hops);
        if (hops.Count == 0)
        {
            throw new ArgumentException("A pipeline has at least one hop.", nameof(hops));
        }

        double bitsPerToken = hiddenSize * sizeof(float) * 8.0;
        double compute = 0, latency = 0, transfer = 0;
        for (int i = 0; i < hops.Count; i++)
        {
            HopProfile hop = hops[i];
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hop.ComputeTokensPerSecond, nameof(hops));
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hop.BandwidthBitsPerSecond, nameof(hops));
            compute += hop.Blocks * 1000.0 / hop.ComputeTokensPerSecond;
            double oneWay = bitsPerToken * 1000.0 / hop.BandwidthBitsPerSecond;
            if (push)
            {
                latency += hop.RttFromPreviousMs / 2;
                transfer += oneWay;
            }
            else
            {
                latency += clientRttsMs?[i] ?? hop.RttFromPreviousMs;
                transfer += 2 * oneWay;
            }
        }

        if (push)
        {
            latency += lastToClientRttMs / 2;
            transfer += bitsPerToken * 1000.0 / hops[^1].BandwidthBitsPerSecond;
        }

        return new PipelineEstimate(compute, latency, transfer);
    }

    /// <summary>Hidden states per second a link carries: what a server publishes as network throughput.</summary>
    public static double NetworkTokensPerSecond(double bandwidthBitsPerSecond, int hiddenSize) =>
        bandwidthBitsPerSecond / (hiddenSize * sizeof(float) * 8.0);
}
