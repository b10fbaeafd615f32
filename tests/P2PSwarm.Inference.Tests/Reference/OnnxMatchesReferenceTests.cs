using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Onnx;
using P2PSwarm.Inference.Reference;
using P2PSwarm.Inference.Tests.Runtime;
using Xunit.Abstractions;

namespace P2PSwarm.Inference.Tests.Reference;

/// <summary>The ONNX span graph (fp32) against the plain C# forward: prefill, chunked prefill, decode.</summary>
public sealed class OnnxMatchesReferenceTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;

    public static TheoryData<string> Variants => ["plain", "attention_bias", "llama3_rope"];

    [Theory]
    [MemberData(nameof(Variants))]
    public void Prefill_chunked_prefill_and_decode_match_the_reference(string variant)
    {
        var config = variant switch
        {
            "attention_bias" => SeededTensorSource.TinyConfig(attentionBias: true),
            "llama3_rope" => SeededTensorSource.TinyConfig(ropeScaling: new Llama3RopeScaling(8, 1, 4, 32)),
            _ => SeededTensorSource.TinyConfig(),
        };
        var source = new SeededTensorSource(config, seed: 7);
        using var fixture = new SpanFixture();
        var span = BlockSpan.All(config);
        using var session = fixture.Open(source, span).CreateSession(maxLength: 64);
        var reference = new ReferenceSpan(source, span).CreateSession();
        var h = config.HiddenSize;

        // Long enough that positions cross the llama3 variant's smoothing band.
        var prompt = SeededTensorSource.RandomHidden(20, h, seed: 1);
        var prefillOutput = new float[prompt.Length];
        session.Prefill(prompt, prefillOutput);
        var prefillError = SpanFixture.RelativeError(prefillOutput, reference.Forward(prompt));
        Assert.InRange(prefillError, 0, Tolerance);

        var chunk = SeededTensorSource.RandomHidden(5, h, seed: 2);
        var chunkOutput = new float[chunk.Length];
        session.Prefill(chunk, chunkOutput);
        var chunkError = SpanFixture.RelativeError(chunkOutput, reference.Forward(chunk));
        Assert.InRange(chunkError, 0, Tolerance);

        var step = new float[h];
        double decodeError = 0;
        for (var i = 0; i < 6; i++)
        {
            var token = SeededTensorSource.RandomHidden(1, h, seed: 10 + i);
            session.Decode(token, step);
            decodeError = Math.Max(decodeError, SpanFixture.RelativeError(step, reference.Forward(token)));
        }
        Assert.InRange(decodeError, 0, Tolerance);
        output.WriteLine($"{variant}: relative error prefill {prefillError:E2}, chunked prefill {chunkError:E2}, decode {decodeError:E2}");
        Assert.Equal(31, session.Position);
        Assert.Equal(31, reference.Position);
    }

    [Fact]
    public void A_span_in_the_middle_of_the_model_matches_the_reference_for_those_blocks()
    {
        var config = SeededTensorSource.TinyConfig();
        var source = new SeededTensorSource(config, seed: 3);
        using var fixture = new SpanFixture();
        var span = new BlockSpan(3, 6);
        using var session = fixture.Open(source, span).CreateSession(maxLength: 32);
        var reference = new ReferenceSpan(source, span).CreateSession();

        var prompt = SeededTensorSource.RandomHidden(9, config.HiddenSize, seed: 4);
        var output = new float[prompt.Length];
        session.Prefill(prompt, output);
        Assert.InRange(SpanFixture.RelativeError(output, reference.Forward(prompt)), 0, Tolerance);
    }
}
