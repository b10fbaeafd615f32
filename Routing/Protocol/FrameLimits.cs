namespace P2PSwarm.Routing.Protocol;

/// <summary>
/// Largest frame a reader accepts, checked from the length prefix before any body byte is buffered. An
/// inference frame is dominated by one tensor: a prefill of N tokens is N x hidden x 4 bytes.
/// </summary>
public static class FrameLimits
{
    /// <summary><c>/p2pswarm/info/1.0.0</c> frames: a ServerInfo with a few dozen RTT entries.</summary>
    public const int MaxInfoFrameBytes = 16 * 1024;

    /// <summary>Inference frame limit when the model is not known yet (e.g. 4096 tokens x 4096 hidden).</summary>
    public const int DefaultMaxInferenceFrameBytes = 64 * 1024 * 1024;

    /// <summary>Hard ceiling whatever the configuration: keeps one hostile length prefix from reserving gigabytes.</summary>
    public const int AbsoluteMaxFrameBytes = 256 * 1024 * 1024;

    /// <summary>Everything in a Step or StepResult besides the tensor bytes (ids, signature, digests, tags).</summary>
    public const int NonTensorOverheadBytes = 4 * 1024;

    /// <summary>Largest session id, signature, public key or message string a decoder keeps.</summary>
    public const int MaxErrorMessageBytes = 1024;

    /// <summary>The inference frame limit for a model of <paramref name="hiddenSize"/> with steps of at most <paramref name="maxTokensPerStep"/> tokens.</summary>
    public static int ForInference(int hiddenSize, int maxTokensPerStep)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hiddenSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxTokensPerStep);
        long bytes = ((long)hiddenSize * maxTokensPerStep * sizeof(float)) + NonTensorOverheadBytes;
        if (bytes > AbsoluteMaxFrameBytes)
        {
            throw new ArgumentOutOfRangeException(
                nameof(maxTokensPerStep),
                $"{maxTokensPerStep} tokens x {hiddenSize} hidden needs {bytes} bytes per frame; the ceiling is {AbsoluteMaxFrameBytes}.");
        }

        return (int)bytes;
    }

    /// <summary>Most tokens one step may carry under <paramref name="maxFrameBytes"/>.</summary>
    public static int MaxTokensPerStep(int hiddenSize, int maxFrameBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hiddenSize);
        return Math.Max(0, (maxFrameBytes - NonTensorOverheadBytes) / (hiddenSize * sizeof(float)));
    }
}
