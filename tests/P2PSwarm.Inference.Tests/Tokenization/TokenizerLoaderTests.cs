using P2PSwarm.Inference.Checkpoints;
using P2PSwarm.Inference.Tests.Checkpoints;
using P2PSwarm.Inference.Tokenization;

namespace P2PSwarm.Inference.Tests.Tokenization;

public sealed class TokenizerLoaderTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly TextTokenizer _tokenizer;

    public TokenizerLoaderTests()
    {
        File.WriteAllText(_temp.Combine("tokenizer.json"), GeneratedTokenizer.ToJson());
        File.WriteAllText(_temp.Combine("config.json"), LlamaConfigJson.Write(CheckpointPreset.Tiny.Config));
        _tokenizer = TokenizerLoader.Load(_temp.Path);
    }

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("The capital of France is Paris.")]
    [InlineData("  leading spaces, trailing spaces  \n\nand blank lines\r\n")]
    [InlineData("Numbers: 1, 22, 333, 4444, 65536.")]
    [InlineData("Grüße aus Köln, ça va? Żółć.")]
    [InlineData("日本語のテキストと中文字符")]
    [InlineData("emoji 🚀🎉 and a family 👨‍👩‍👧 plus flags 🇫🇷")]
    [InlineData("")]
    public void Encode_then_decode_gives_back_the_text(string text)
    {
        var ids = _tokenizer.Encode(text, addBos: false);
        Assert.All(ids, id => Assert.InRange(id, 0, _tokenizer.VocabularySize - 1));
        Assert.Equal(text, _tokenizer.Decode(ids));
    }

    [Fact]
    public void Learned_merges_make_common_english_shorter_than_its_bytes()
    {
        const string text = "the weather in the village is warm and the market is open";
        var ids = _tokenizer.Encode(text, addBos: false);
        Assert.True(ids.Length < text.Length / 2, $"{ids.Length} tokens for {text.Length} bytes");
    }

    [Fact]
    public void Bos_and_eos_come_from_the_config_and_special_tokens_decode_to_nothing()
    {
        Assert.Equal(GeneratedTokenizer.BeginOfTextId, _tokenizer.BosId);
        Assert.Equal([GeneratedTokenizer.EndOfTextId], _tokenizer.EosIds);
        Assert.Equal(TokenizerKind.ByteLevelBpe, _tokenizer.Kind);
        Assert.Equal(GeneratedTokenizer.VocabularySize, _tokenizer.VocabularySize);

        var ids = _tokenizer.Encode("hello", addBos: true);
        Assert.Equal(GeneratedTokenizer.BeginOfTextId, ids[0]);
        Assert.Equal(_tokenizer.Encode("hello", addBos: false), ids[1..]);
        Assert.Equal("hello", _tokenizer.Decode([.. ids, GeneratedTokenizer.EndOfTextId]));
        Assert.True(_tokenizer.IsEos(GeneratedTokenizer.EndOfTextId));
    }

    [Fact]
    public void Special_token_text_in_the_prompt_becomes_its_id()
    {
        var ids = _tokenizer.Encode("<|begin_of_text|>hi", addBos: false);
        Assert.Equal(GeneratedTokenizer.BeginOfTextId, ids[0]);
    }

    [Fact]
    public void Generated_tokenizer_json_is_identical_every_time_and_has_about_a_thousand_tokens()
    {
        Assert.Equal(GeneratedTokenizer.ToJson(), GeneratedTokenizer.ToJson());
        Assert.InRange(GeneratedTokenizer.VocabularySize, 600, 1024);
        Assert.Equal(256 + GeneratedTokenizer.Bpe.Merges.Count, GeneratedTokenizer.Bpe.Vocabulary.Count);
    }

    [Fact]
    public void String_form_merges_and_a_plain_byte_level_pre_tokenizer_also_load()
    {
        // GPT-2-era files: merges as "a b" strings and a ByteLevel pre-tokenizer that splits with its own regex.
        var json = System.Text.Json.Nodes.JsonNode.Parse(GeneratedTokenizer.ToJson())!;
        var merges = json["model"]!["merges"]!.AsArray().Select(m => (System.Text.Json.Nodes.JsonNode)$"{m![0]} {m[1]}").ToArray();
        json["model"]!["merges"] = new System.Text.Json.Nodes.JsonArray(merges);
        json["pre_tokenizer"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = true };
        using var temp = new TempDirectory();
        File.WriteAllText(temp.Combine("tokenizer.json"), json.ToJsonString());

        var tokenizer = TokenizerLoader.Load(temp.Path);
        Assert.Equal("Hello world, 🌍!", tokenizer.Decode(tokenizer.Encode("Hello world, 🌍!", addBos: false)));
        Assert.Equal(GeneratedTokenizer.BeginOfTextId, tokenizer.BosId);
    }

    [Theory]
    [InlineData("{", "not valid JSON")]
    [InlineData("""{"model": {"type": "Unigram", "vocab": []}}""", "only model.type \"BPE\"")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [1]}, "decoder": {"type": "ByteLevel"}}""", "model.merges entry")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}""", "only byte-level BPE")]
    public void Unusable_tokenizer_json_names_the_file(string json, string expected)
    {
        using var temp = new TempDirectory();
        var path = temp.Combine("tokenizer.json");
        File.WriteAllText(path, json);
        var error = Assert.Throws<CheckpointException>(() => TokenizerLoader.Load(temp.Path));
        Assert.Contains(expected, error.Message);
        Assert.Equal(path, error.File);
    }

    [Fact]
    public void A_directory_without_a_tokenizer_is_a_clear_error()
    {
        using var temp = new TempDirectory();
        Assert.Null(TokenizerLoader.Detect(temp.Path));
        Assert.Contains("no tokenizer.json or tokenizer.model", Assert.Throws<CheckpointException>(() => TokenizerLoader.Load(temp.Path)).Message);
    }
}
