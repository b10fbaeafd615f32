using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Client;
using P2PSwarm.Inference.Tests.Checkpoints;
using P2PSwarm.Inference.Tokenization;

namespace P2PSwarm.Inference.Tests.Client;

public sealed class StreamingDetokenizerTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly TextTokenizer _tokenizer;

    public StreamingDetokenizerTests()
    {
        File.WriteAllText(_temp.Combine("tokenizer.json"), GeneratedTokenizer.ToJson());
        File.WriteAllText(_temp.Combine("config.json"), LlamaConfigJson.Write(CheckpointPreset.Tiny.Config));
        _tokenizer = TokenizerLoader.Load(_temp.Path);
    }

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("plain English text, with punctuation.")]
    [InlineData("emoji 🚀 split across byte tokens 🎉🎉")]
    [InlineData("中文字符和日本語")]
    [InlineData("mixed: café → naïve ✓ 👨‍👩‍👧")]
    public void Pieces_never_contain_a_replacement_character_and_join_to_the_text(string text)
    {
        var ids = _tokenizer.Encode(text, addBos: false);
        var detokenizer = new StreamingDetokenizer(_tokenizer);
        var pieces = ids.Select(detokenizer.Push).ToList();
        pieces.Add(detokenizer.Flush());

        Assert.All(pieces, piece => Assert.DoesNotContain('\uFFFD', piece));
        Assert.Equal(text, string.Concat(pieces));
        Assert.Equal(text, detokenizer.Text);
    }

    [Fact]
    public void A_four_byte_character_is_held_back_until_its_last_byte_arrives()
    {
        var ids = _tokenizer.Encode("🚀", addBos: false);
        Assert.True(ids.Length > 1, "the generated vocabulary has no emoji tokens, so the rocket is split");
        var detokenizer = new StreamingDetokenizer(_tokenizer);
        foreach (var id in ids[..^1])
        {
            Assert.Equal("", detokenizer.Push(id));
        }
        Assert.Equal("🚀", detokenizer.Push(ids[^1]));
    }

    [Fact]
    public void Flush_releases_an_unfinished_character_as_one_replacement()
    {
        var ids = _tokenizer.Encode("a🚀", addBos: false);
        var detokenizer = new StreamingDetokenizer(_tokenizer);
        var released = string.Concat(ids[..^1].Select(detokenizer.Push));
        Assert.Equal("a", released);
        Assert.Contains('\uFFFD', detokenizer.Flush());
    }

    [Fact]
    public void Special_tokens_produce_no_text()
    {
        var detokenizer = new StreamingDetokenizer(_tokenizer);
        Assert.Equal("", detokenizer.Push(GeneratedTokenizer.BeginOfTextId));
        Assert.Equal("hi", string.Concat(_tokenizer.Encode("hi", addBos: false).Select(detokenizer.Push)));
    }
}
