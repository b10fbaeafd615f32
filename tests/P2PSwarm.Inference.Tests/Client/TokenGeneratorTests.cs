using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Client;
using P2PSwarm.Inference.Tests.Checkpoints;
using P2PSwarm.Inference.Tokenization;

namespace P2PSwarm.Inference.Tests.Client;

public sealed class TokenGeneratorTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly Checkpoint _checkpoint;
    private readonly ClientHead _head;
    private readonly TextTokenizer _tokenizer;

    public TokenGeneratorTests()
    {
        var dir = _temp.Combine("m");
        CheckpointFactory.Create(dir, CheckpointPreset.Tiny.Config with { NumHiddenLayers = 1 }, TensorDtype.F32, seed: 2, name: "m");
        _checkpoint = Checkpoint.Open(dir);
        _head = new ClientHead(_checkpoint);
        _tokenizer = TokenizerLoader.Load(dir);
    }

    public void Dispose()
    {
        _checkpoint.Dispose();
        _temp.Dispose();
    }

    [Fact]
    public void Stops_after_max_tokens_and_records_prompt_then_generated_ids()
    {
        var prompt = _tokenizer.Encode("The river", addBos: true);
        var generator = new TokenGenerator(_head, _tokenizer, new GenerationOptions { MaxTokens = 5, Temperature = 0.7f, Seed = 3 }, prompt);
        var text = "";
        while (!generator.IsFinished)
        {
            // No blocks in between: the "last span" output is the newest token's embedding, which is enough to drive the loop.
            text += generator.Step(_head.Embed([generator.Tokens[^1]])).Text;
        }
        Assert.Equal(StopReason.MaxTokens, generator.StopReason);
        Assert.Equal(5, generator.GeneratedCount);
        Assert.Equal(prompt, generator.Tokens.Take(prompt.Length));
        Assert.Equal(text, generator.Text);
        Assert.Equal(_tokenizer.Decode(generator.GeneratedIds), text);
        Assert.Throws<InvalidOperationException>(() => generator.Step(_head.Embed([1])));
    }

    [Fact]
    public void Stops_at_end_of_sequence_without_printing_it()
    {
        // Find a hidden state whose greedy token is EOS: the EOS row of the LM head itself, scaled up, after norm points at EOS.
        var eos = GeneratedTokenizer.EndOfTextId;
        var lmHead = _checkpoint.ReadFloat32(_checkpoint.LmHeadTensorName);
        var norm = _checkpoint.ReadFloat32(LlamaTensorNames.FinalNorm);
        var hidden = lmHead.AsSpan(eos * _head.HiddenSize, _head.HiddenSize).ToArray().Select((v, i) => v / norm[i]).ToArray();
        Assert.Equal(eos, Sampler.ArgMax(_head.ComputeLogits(hidden)));

        var generator = new TokenGenerator(_head, _tokenizer, new GenerationOptions { MaxTokens = 10 }, [GeneratedTokenizer.BeginOfTextId]);
        var step = generator.Step(hidden);
        Assert.Equal(eos, step.Id);
        Assert.Equal("", step.Text);
        Assert.Equal(StopReason.EndOfSequence, generator.StopReason);
    }
}
