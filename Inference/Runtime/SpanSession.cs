using System.Buffers;
using Microsoft.ML.OnnxRuntime;
using P2PSwarm.Inference.Onnx;

namespace P2PSwarm.Inference.Runtime;

/// <summary>
/// One client session on a span: its own KV cache, one <c>[1, kvHeads, maxLength, headDim]</c> fp32 buffer per
/// layer for K and for V, bound as BOTH the past input and the present output so GroupQueryAttention appends in
/// place (share-buffer mode). The decode input/output and the two length scalars are pinned arrays bound once;
/// a decode step copies the hidden vector in, sets two ints and runs, without managed allocation.
/// </summary>
/// <remarks>Not thread-safe: one caller drives a session. Different sessions may run from different threads.</remarks>
public sealed class SpanSession : IDisposable
{
    private readonly SpanRunner _runner;
    private readonly int _hidden;
    private readonly OrtIoBinding _binding;
    private readonly RunOptions _runOptions = new();
    private readonly List<OrtValue> _ownedValues = [];
    private readonly int[] _seqLens = GC.AllocateArray<int>(1, pinned: true);
    private readonly int[] _totalLength = GC.AllocateArray<int>(1, pinned: true);
    private readonly float[] _decodeInput;
    private readonly float[] _decodeOutput;
    private readonly OrtValue _decodeInputValue;
    private readonly OrtValue _decodeOutputValue;
    private bool _disposed;

    internal SpanSession(SpanRunner runner, int maxLength)
    {
        _runner = runner;
        _hidden = runner.HiddenSize;
        MaxLength = maxLength;
        var config = runner.Config;
        _binding = runner.CreateBinding();
        try
        {
            long[] kvShape = [1, config.NumKeyValueHeads, maxLength, config.HeadDim];
            var kvLength = config.NumKeyValueHeads * maxLength * config.HeadDim;
            for (var layer = runner.Span.Start; layer < runner.Span.End; layer++)
            {
                var key = Own(OrtValue.CreateTensorValueFromMemory(GC.AllocateArray<float>(kvLength, pinned: true), kvShape));
                var value = Own(OrtValue.CreateTensorValueFromMemory(GC.AllocateArray<float>(kvLength, pinned: true), kvShape));
                _binding.BindInput(SpanGraphBuilder.PastKey(layer), key);
                _binding.BindOutput(SpanGraphBuilder.PresentKey(layer), key);
                _binding.BindInput(SpanGraphBuilder.PastValue(layer), value);
                _binding.BindOutput(SpanGraphBuilder.PresentValue(layer), value);
            }
            _binding.BindInput(SpanGraphBuilder.SeqLensInput, Own(OrtValue.CreateTensorValueFromMemory(_seqLens, [1])));
            _binding.BindInput(SpanGraphBuilder.TotalLengthInput, Own(OrtValue.CreateTensorValueFromMemory(_totalLength, [])));
            _decodeInput = GC.AllocateArray<float>(_hidden, pinned: true);
            _decodeOutput = GC.AllocateArray<float>(_hidden, pinned: true);
            _decodeInputValue = Own(OrtValue.CreateTensorValueFromMemory(_decodeInput, [1, 1, _hidden]));
            _decodeOutputValue = Own(OrtValue.CreateTensorValueFromMemory(_decodeOutput, [1, 1, _hidden]));
            BindDecodeBuffers();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Positions already in the KV cache: the next token's position.</summary>
    public int Position { get; private set; }

    public int MaxLength { get; }

    public int HiddenSize => _hidden;

    /// <summary>
    /// Runs <c>hidden.Length / HiddenSize</c> tokens (the <c>[1, S, H]</c> residual stream) from <see cref="Position"/>
    /// and writes the span's output for each of them. With a non-empty cache this is chunked prefill.
    /// </summary>
    public void Prefill(ReadOnlySpan<float> hidden, Span<float> output)
    {
        var tokens = TokenCount(hidden, output);
        if (tokens == 1)
        {
            Decode(hidden, output);
            return;
        }
        EnsureCapacity(tokens);
        var length = tokens * _hidden;
        var input = ArrayPool<float>.Shared.Rent(length);
        var result = ArrayPool<float>.Shared.Rent(length);
        try
        {
            hidden.CopyTo(input);
            using var inputValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, input.AsMemory(0, length), [1, tokens, _hidden]);
            using var outputValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, result.AsMemory(0, length), [1, tokens, _hidden]);
            lock (_runner.RunLock)
            {
                _binding.BindInput(SpanGraphBuilder.HiddenInput, inputValue);
                _binding.BindOutput(SpanGraphBuilder.HiddenOutput, outputValue);
                try
                {
                    RunLocked(tokens);
                }
                finally
                {
                    BindDecodeBuffers();
                }
            }
            result.AsSpan(0, length).CopyTo(output);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(input);
            ArrayPool<float>.Shared.Return(result);
        }
    }

    /// <summary>Runs one token at <see cref="Position"/>. Allocation-free in steady state.</summary>
    public void Decode(ReadOnlySpan<float> hidden, Span<float> output)
    {
        if (hidden.Length != _hidden || output.Length < _hidden)
        {
            throw new ArgumentException($"Decode takes exactly one hidden vector of {_hidden} floats (got {hidden.Length}, output {output.Length}).", nameof(hidden));
        }
        EnsureCapacity(1);
        hidden.CopyTo(_decodeInput);
        lock (_runner.RunLock)
        {
            RunLocked(1);
        }
        _decodeOutput.AsSpan().CopyTo(output);
    }

    /// <summary>
    /// Forgets every position from <paramref name="position"/> on (replay after a failure, a rejected token).
    /// GroupQueryAttention reads only <c>[0, seqlens_k]</c>, so moving the length back is all it takes.
    /// </summary>
    public void TruncateTo(int position)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (position < 0 || position > Position)
        {
            throw new ArgumentOutOfRangeException(nameof(position), position, $"Can truncate only to [0, {Position}].");
        }
        Position = position;
    }

    private void RunLocked(int tokens)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _seqLens[0] = Position + tokens - 1;
        _totalLength[0] = Position + tokens;
        _runner.Run(_runOptions, _binding);
        Position += tokens;
    }

    private int TokenCount(ReadOnlySpan<float> hidden, Span<float> output)
    {
        if (hidden.Length == 0 || hidden.Length % _hidden != 0)
        {
            throw new ArgumentException($"Hidden states must be a non-empty multiple of {_hidden} floats, got {hidden.Length}.", nameof(hidden));
        }
        if (output.Length < hidden.Length)
        {
            throw new ArgumentException($"Output holds {output.Length} floats, needs {hidden.Length}.", nameof(output));
        }
        return hidden.Length / _hidden;
    }

    private void EnsureCapacity(int tokens)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Position + tokens > MaxLength)
        {
            throw new KvCacheFullException(Position, tokens, MaxLength);
        }
    }

    private void BindDecodeBuffers()
    {
        _binding.BindInput(SpanGraphBuilder.HiddenInput, _decodeInputValue);
        _binding.BindOutput(SpanGraphBuilder.HiddenOutput, _decodeOutputValue);
    }

    private OrtValue Own(OrtValue value)
    {
        _ownedValues.Add(value);
        return value;
    }

    public void Dispose()
    {
        // Under the run lock so a session is never freed while another session's step holds the span.
        lock (_runner.RunLock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            _binding.Dispose();
            foreach (var value in _ownedValues)
            {
                value.Dispose();
            }
            _ownedValues.Clear();
            _runOptions.Dispose();
        }
    }
}
