using P2PSwarm.Inference.Client;
using P2PSwarm.Inference.Tests.Checkpoints;
using P2PSwarm.Inference.Tokenization;

namespace P2PSwarm.Inference.Tests.Tokenization;

public sealed class SentencePieceTokenizerTests : IDisposable
{
    private static readonly string[] Pieces =
    [
        "▁t", "he", "▁the", "▁w", "or", "ld", "▁wor", "▁world", "ll", "▁he", "▁hell", "▁hello", "in", "▁a",
        "▁", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", ",", ".",
    ];

    private readonly TempDirectory _temp = new();
    private readonly TextTokenizer _tokenizer;

    public SentencePieceTokenizerTests()
    {
        File.WriteAllBytes(_temp.Combine("tokenizer.model"), SentencePieceModelWriter.Write(Pieces));
        _tokenizer = TokenizerLoader.Load(_temp.Path);
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Tokenizer_model_loads_as_sentencepiece_with_llama_special_ids()
    {
        Assert.Equal(TokenizerKind.SentencePiece, _tokenizer.Kind);
        Assert.Equal(TokenizerKind.SentencePiece, TokenizerLoader.Detect(_temp.Path));
        Assert.Equal(1, _tokenizer.BosId);
        Assert.Equal([2], _tokenizer.EosIds);
        Assert.Equal(3 + 256 + Pieces.Length, _tokenizer.VocabularySize);
    }

    [Fact]
    public void Scored_merges_apply_and_bos_is_prepended_on_request()
    {
        var ids = _tokenizer.Encode("hello world", addBos: true);
        var helloId = 3 + 256 + Array.IndexOf(Pieces, "▁hello");
        var worldId = 3 + 256 + Array.IndexOf(Pieces, "▁world");
        Assert.Equal([1, helloId, worldId], ids);
    }

    [Theory]
    [InlineData("hello world")]
    [InlineData("Hello, World. The END")]
    [InlineData("byte fallback: é 中 🚀")]
    public void Encode_then_decode_gives_back_the_text_through_byte_fallback(string text)
    {
        Assert.Equal(text, _tokenizer.Decode(_tokenizer.Encode(text, addBos: true)));
    }

    [Fact]
    public void Streaming_keeps_spaces_and_whole_characters()
    {
        const string text = "hello 🚀 world, the end";
        var detokenizer = new StreamingDetokenizer(_tokenizer, atStartOfText: true);
        var pieces = _tokenizer.Encode(text, addBos: false).Select(detokenizer.Push).ToList();
        pieces.Add(detokenizer.Flush());
        Assert.All(pieces, piece => Assert.DoesNotContain('\uFFFD', piece));
        Assert.Equal(text, string.Concat(pieces));
    }

    [Fact]
    public void Streaming_a_continuation_keeps_the_space_that_separates_it_from_the_prompt()
    {
        var ids = _tokenizer.Encode("hello world", addBos: false);
        var detokenizer = new StreamingDetokenizer(_tokenizer);
        Assert.Equal(" hello world", string.Concat(ids.Select(detokenizer.Push)));
    }

    [Fact]
    public void A_corrupt_tokenizer_model_is_a_clear_error()
    {
        using var temp = new TempDirectory();
        var path = temp.Combine("tokenizer.model");
        File.WriteAllBytes(path, [0x0A, 0xFF, 0xFF, 0x01]);
        var error = Assert.Throws<P2PSwarm.Inference.Checkpoints.CheckpointException>(() => TokenizerLoader.Load(temp.Path));
        Assert.Equal(path, error.File);
    }
}
