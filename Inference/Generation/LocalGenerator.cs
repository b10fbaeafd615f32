using System.Diagnostics;
using Microsoft.Extensions.Logging;
using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Client;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Inference.Runtime;
using P2PSwarm.Inference.Tokenization;

namespace P2PSwarm.Inference.Generation;

/// <summary>What one generation produced, with its timings.</summary>
/// <param name="ModelId">The model's <c>name@fingerprint</c>.</param>
/// <param name="PromptTokenIds">The prompt's ids, BOS included.</param>
/// <param name="TokenIds">The generated ids (an EOS that stopped generation included).</param>
/// <param name="Text">The generated text.</param>
/// <param name="StopReason">End of sequence, or max tokens (also when the context window is full).</param>
/// <param name="PrefillMilliseconds">Prompt embedding, the span's prefill and the first token's logits and sampling.</param>
/// <param name="MillisecondsPerToken">Mean time per token after the first (embed, span decode, LM head, sample); 0 when fewer than two tokens were generated.</param>
public sealed record GenerationResult(
    string ModelId,
    IReadOnlyList<int> PromptTokenIds,
    IReadOnlyList<int> TokenIds,
    string Text,
    StopReason StopReason,
    double PrefillMilliseconds,
    double MillisecondsPerToken);

/// <summary>
/// The single-machine baseline: every block of the model in this process as one span, with the client head
/// around it. Tokenizer → embeddings → <see cref="SpanRunner"/> over [0, N) → final norm + LM head → sampler,
/// text streamed as it completes. Open once, generate many times (each generation gets its own KV cache).
/// </summary>
public sealed class LocalGenerator : IDisposable
{
    private readonly Checkpoint _checkpoint;
    private readonly SpanRunner _runner;
    private readonly ClientHead _head;
    private readonly TextTokenizer _tokenizer;

    private LocalGenerator(Checkpoint checkpoint, SpanRunner runner, ClientHead head, TextTokenizer tokenizer, string modelId)
    {
        _checkpoint = checkpoint;
        _runner = runner;
        _head = head;
        _tokenizer = tokenizer;
        ModelId = modelId;
    }

    public string ModelId { get; }

    public LlamaConfig Config => _checkpoint.Config;

    /// <summary>Opens the checkpoint in <paramref name="modelDirectory"/> and its whole-model span graph (written to <paramref name="cache"/> on first use).</summary>
    public static LocalGenerator Open(string modelDirectory, SpanQuantization quantization, SpanGraphCache? cache = null, ILogger? logger = null)
    {
        var checkpoint = Checkpoint.Open(modelDirectory);
        try
        {
            var tokenizer = TokenizerLoader.Load(checkpoint.Directory);
            var modelId = Inference.ModelId.For(checkpoint, logger).ToString();
            var head = new ClientHead(checkpoint);
            var runner = SpanRunner.Open(checkpoint, modelId, BlockSpan.All(checkpoint.Config), quantization, cache ?? new SpanGraphCache(logger: logger), logger);
            return new LocalGenerator(checkpoint, runner, head, tokenizer, modelId);
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>Generates from <paramref name="prompt"/> (BOS prepended when the model has one); <paramref name="onText"/> receives each newly complete piece of text.</summary>
    public GenerationResult Generate(string prompt, GenerationOptions options, Action<string>? onText = null)
    {
        options.Validate();
        var promptIds = _tokenizer.Encode(prompt, addBos: true);
        var maxLength = _runner.MaxSupportedLength;
        if (promptIds.Length == 0 || promptIds.Length >= maxLength)
        {
            throw new ArgumentException($"The prompt has {promptIds.Length} tokens; this model takes 1 to {maxLength - 1}.", nameof(prompt));
        }
        // The context window bounds how many tokens can follow the prompt.
        options = options with { MaxTokens = Math.Min(options.MaxTokens, maxLength - promptIds.Length) };
        var generator = new TokenGenerator(_head, _tokenizer, options, promptIds);
        using var session = _runner.CreateSession(promptIds.Length + Math.Max(options.MaxTokens, 1));
        var h = _head.HiddenSize;

        var clock = Stopwatch.StartNew();
        var hidden = _head.Embed(promptIds);
        var output = new float[hidden.Length];
        session.Prefill(hidden, output);
        if (!generator.IsFinished)
        {
            Emit(generator.Step(output), onText);
        }
        var prefillMilliseconds = clock.Elapsed.TotalMilliseconds;

        clock.Restart();
        var decodeSteps = 0;
        Span<int> last = stackalloc int[1];
        var stepInput = hidden.AsSpan(0, h);
        var stepOutput = output.AsSpan(0, h);
        while (!generator.IsFinished)
        {
            last[0] = generator.Tokens[^1];
            _head.Embed(last, stepInput);
            session.Decode(stepInput, stepOutput);
            Emit(generator.Step(stepOutput), onText);
            decodeSteps++;
        }
        var perToken = decodeSteps == 0 ? 0 : clock.Elapsed.TotalMilliseconds / decodeSteps;

        return new GenerationResult(ModelId, promptIds, [.. generator.GeneratedIds], generator.Text, generator.StopReason, prefillMilliseconds, perToken);
    }

    private static void Emit(GeneratedToken token, Action<string>? onText)
    {
        if (token.Text.Length > 0)
        {
            onText?.Invoke(token.Text);
        }
    }

    public void Dispose()
    {
        _runner.Dispose();
        _checkpoint.Dispose();
    }
}
